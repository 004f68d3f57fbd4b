// The committed client types are what openapi-typescript makes of the committed document
// (console/openapi.json, itself checked against the gateway by gateway/tests/test_console_routes.py).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";

it("src/api/schema.d.ts is generated from openapi.json (run `make console-api`)", () => {
  const out = join(mkdtempSync(join(tmpdir(), "console-api-")), "schema.d.ts");
  execFileSync(process.execPath, ["node_modules/openapi-typescript/bin/cli.js", "openapi.json", "-o", out], { stdio: "pipe" });
  expect(readFileSync("src/api/schema.d.ts", "utf8") === readFileSync(out, "utf8")).toBe(true);
}, 60_000);
