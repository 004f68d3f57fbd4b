import { createContext, useContext } from "react";
import type { ConsoleConfig } from "../auth/config";

export const ConfigContext = createContext<ConsoleConfig>({ sign_in: "dev" });

export function useConsoleConfig(): ConsoleConfig {
  return useContext(ConfigContext);
}
