import { render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import type { Schema } from "../../api";
import { LocaleProvider, type Locale } from "../../i18n";
import { WidgetCard } from "./Dashboard";

const FIGURE: Schema<"WidgetView"> = {
  widget_id: "open", title: "Open deals", kind: "figure", figure: 2, status: "amber",
  result: { columns: [{ name: "open", kind: "measure", unit: "count" }], rows: [], totals: [2] },
};
const WIDGET: Schema<"Widget"> = { id: "open", kind: "figure", thresholds: { green: 5, amber: 2 } };

function show(view: Schema<"WidgetView">, widget: Schema<"Widget"> | undefined, locale: Locale = "en") {
  return render(
    <MemoryRouter>
      <LocaleProvider initial={locale}><WidgetCard dashboardId="d 1" view={view} widget={widget} /></LocaleProvider>
    </MemoryRouter>,
  );
}

describe("a dashboard widget", () => {
  it("says the API's colour as a word, states the limits and links the figure to its records", () => {
    show(FIGURE, WIDGET);
    expect(screen.getByTestId("widget-status").textContent).toBe("Watch");
    expect(screen.getByText("Green ≥ 5 · Amber ≥ 2")).toBeTruthy();
    const link = screen.getByTestId("widget-figure");
    expect(link.textContent).toBe("2");
    expect(link.getAttribute("href")).toBe("/dashboards/d%201/widgets/open/records?what=Open+deals");
  });

  it("colours by the widget's thresholds when the answer carries no colour", () => {
    show({ ...FIGURE, status: "", figure: 7 }, WIDGET, "zh-CN");
    expect(screen.getByTestId("widget-status").textContent).toBe("达标");
  });

  it("has no colour and no link without a figure", () => {
    show({ ...FIGURE, status: "", figure: undefined }, undefined);
    expect(screen.queryByTestId("widget-status")).toBeNull();
    expect(screen.queryByTestId("widget-figure")).toBeNull();
    expect(screen.getByText("No thresholds set")).toBeTruthy();
  });

  it("links each row of a funnel to that row's records", () => {
    show({ widget_id: "by-stage", title: "By stage", kind: "funnel", figure: 3, result: {
      columns: [{ name: "stage", kind: "dimension" }, { name: "open", kind: "measure", unit: "count" }],
      rows: [{ keys: ["qualify"], values: [3] }] } }, undefined);
    const row = screen.getByLabelText("3: show the records of qualify");
    const url = new URL(row.getAttribute("href")!, "http://x");
    expect(url.pathname).toBe("/dashboards/d%201/widgets/by-stage/records");
    expect(JSON.parse(url.searchParams.get("keys")!)).toEqual(["qualify"]);
  }, 60_000); // antd's table is slow to render in jsdom on a busy machine
});
