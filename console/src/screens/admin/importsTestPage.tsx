import { render } from "@testing-library/react";
import type { ComponentType } from "react";
import { MemoryRouter, Route, Routes } from "react-router";
import { LocaleProvider } from "../../i18n";

// The import screen as the console routes it (the list and a job's page), in Chinese: the tests
// of the screen render it here after mocking the gateway.
export function openImports(Imports: ComponentType) {
  render(
    <LocaleProvider initial="zh-CN">
      <MemoryRouter initialEntries={["/admin/imports"]}>
        <Routes>
          <Route path="/admin/imports" element={<Imports />} />
          <Route path="/admin/imports/:id" element={<Imports />} />
        </Routes>
      </MemoryRouter>
    </LocaleProvider>,
  );
}
