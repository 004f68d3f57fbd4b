import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { Form, Input, Button } from "antd";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/problem";
import { LocaleProvider } from "../i18n";
import { ProblemAlert, useApiForm } from "./useApiForm";

function NoteForm({ submit }: { submit: (v: { subject: string }) => Promise<unknown> }) {
  const f = useApiForm<{ subject: string }, unknown>({ fields: ["subject"], strip: ["interaction."], submit });
  return (
    <Form form={f.form} onFinish={f.onFinish}>
      <ProblemAlert {...f.alert} />
      <Form.Item name="subject" label="Subject"><Input /></Form.Item>
      <Button htmlType="submit">Save</Button>
    </Form>
  );
}

const refused = (errors: { field: string; message: string }[], detail = "Invalid request") =>
  new ApiError(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail, errors });

describe("useApiForm", () => {
  it("shows the API's message beside the field it names", async () => {
    const submit = vi.fn().mockRejectedValue(refused([{ field: "interaction.subject", message: "主题最多 300 个字符" }]));
    render(<LocaleProvider initial="zh-CN"><NoteForm submit={submit} /></LocaleProvider>);
    fireEvent.change(screen.getByLabelText("Subject"), { target: { value: "x" } });
    fireEvent.click(screen.getByText("Save"));
    const message = await screen.findByText("主题最多 300 个字符", {}, { timeout: 10_000 });
    // beside the field: inside the same form item as the input
    expect(message.closest(".ant-form-item")).toBe(screen.getByLabelText("Subject").closest(".ant-form-item"));
    expect(screen.queryByRole("alert", { name: /Invalid request/ })).toBeNull();
    expect(submit).toHaveBeenCalledWith({ subject: "x" });
  });

  it("lists errors no field takes above the form with the problem's detail", async () => {
    const submit = vi.fn().mockRejectedValue(
      refused([{ field: "owner_id", message: "not a user of this team" }], "owner_id: not a user of this team"),
    );
    render(<LocaleProvider initial="en"><NoteForm submit={submit} /></LocaleProvider>);
    fireEvent.click(screen.getByText("Save"));
    const alert = await screen.findByRole("alert", {}, { timeout: 10_000 });
    expect(alert.textContent).toContain("owner_id: not a user of this team");
    expect(alert.querySelector("code")?.textContent).toBe("owner_id");
  });

  it("clears the form after a successful submit", async () => {
    const submit = vi.fn().mockResolvedValue({ id: "i-1" });
    render(<LocaleProvider initial="en"><NoteForm submit={submit} /></LocaleProvider>);
    const input = screen.getByLabelText("Subject") as HTMLInputElement;
    fireEvent.change(input, { target: { value: "回访" } });
    fireEvent.click(screen.getByText("Save"));
    await waitFor(() => expect(submit).toHaveBeenCalledTimes(1), { timeout: 10_000 });
    // antd remounts a reset field: look it up again
    await waitFor(() => expect((screen.getByLabelText("Subject") as HTMLInputElement).value).toBe(""), { timeout: 10_000 });
  });
});
