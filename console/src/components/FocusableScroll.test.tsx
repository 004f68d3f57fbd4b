import { render, waitFor } from "@testing-library/react";
import { Table } from "antd";
import { describe, expect, it } from "vitest";
import { FocusableScroll } from "./FocusableScroll";

describe("FocusableScroll", () => {
  it("makes a scrolling table reachable by keyboard, named", async () => {
    const { container } = render(
      <FocusableScroll label="Tickets">
        <Table rowKey="id" scroll={{ x: 900 }} pagination={false}
          columns={[{ title: "Subject", dataIndex: "subject" }]} dataSource={[{ id: "1", subject: "打印机" }]} />
      </FocusableScroll>,
    );
    await waitFor(() => {
      const region = container.querySelector("[role=region]");
      expect(region?.getAttribute("tabindex")).toBe("0");
      expect(region?.getAttribute("aria-label")).toBe("Tickets");
    });
  });
});
