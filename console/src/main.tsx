import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { loadConfig } from "./auth/config";
import { App } from "./app/App";
import "./app/global.css";

const root = createRoot(document.getElementById("root")!);

loadConfig()
  .then((config) => {
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    );
  })
  .catch((err: unknown) => {
    // No config, no sign-in: say so plainly rather than show a blank page.
    const box = document.createElement("pre");
    box.setAttribute("role", "alert");
    box.textContent = `Shuniu CRM console could not start: ${String(err)}`;
    document.getElementById("root")!.replaceChildren(box);
  });
