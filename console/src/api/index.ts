// The one client instance the screens use: `import { api, unwrap } from "../../api"`.
import { createApi } from "./client";
import { session } from "../auth/session";

export const api = createApi({
  baseUrl: globalThis.location?.origin ?? "", // the API is on the console's own origin
  getToken: () => session.token(),
  onUnauthorized: () => session.expire(),
});

export { unwrap } from "./client";
export { ApiError } from "./problem";
export type { Problem, FieldProblem } from "./problem";
export type { components, paths } from "./schema";
/** A schema of the API by name: `Schema<"Contact">`. */
export type Schema<N extends keyof import("./schema").components["schemas"]> =
  import("./schema").components["schemas"][N];
