import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { Button, Form, Input } from "antd";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/problem";
import { LocaleProvider } from "../i18n";
import { ProblemAlert, useApiForm } from "./useApiForm";

// A form kept filled after a save (as the settings editors are): "subject" has no client rule, so
// only the helper can take its API error down; "body" has antd's own rule.
interface Values { subject?: string; body?: string }

function KeptForm({ submit }: { submit: (v: Values) => Promise<unknown> }) {
  const f = useApiForm<Values, unknown>({ fields: ["subject", "body"], resetOnSuccess: false, submit });
  return (
    <Form form={f.form} onFinish={f.onFinish}>
      <ProblemAlert {...f.alert} />
      <Form.Item name="subject" label="Subject"><Input /></Form.Item>
      <Form.Item name="body" label="Body" rules={[{ max: 5, message: "body too long" }]}><Input /></Form.Item>
      <Button htmlType="submit">Save</Button>
    </Form>
  );
}

const refused = (errors: { field: string; message: string }[]) =>
  new ApiError(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "invalid", errors });
const itemOf = (label: string) => screen.getByLabelText(label).closest(".ant-form-item")!;
const type = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });
const save = () => fireEvent.click(screen.getByText("Save"));
const wait = { timeout: 10_000 };

function renderForm(submit: (v: Values) => Promise<unknown>) {
  render(<LocaleProvider initial="en"><KeptForm submit={submit} /></LocaleProvider>);
}

describe("useApiForm on a second submit", () => {
  it("takes down a fixed field's error and the alert once the API accepts", async () => {
    const submit = vi.fn()
      .mockRejectedValueOnce(refused([
        { field: "subject", message: "subject is required" },
        { field: "owner_id", message: "not a user of this team" },
      ]))
      .mockResolvedValueOnce({ id: "i-1" });
    renderForm(submit);
    save();
    const error = await screen.findByText("subject is required", {}, wait);
    expect(error.closest(".ant-form-item")).toBe(itemOf("Subject"));
    expect((await screen.findByRole("alert", {}, wait)).textContent).toContain("not a user of this team");

    type("Subject", "回访");
    save();
    await waitFor(() => expect(submit).toHaveBeenCalledTimes(2), wait);
    expect(submit).toHaveBeenLastCalledWith({ subject: "回访", body: undefined });
    await waitFor(() => expect(screen.queryByText("subject is required")).toBeNull(), wait);
    expect(screen.queryByRole("alert")).toBeNull();
    expect(itemOf("Subject").classList.contains("ant-form-item-has-error")).toBe(false);
    expect((screen.getByLabelText("Subject") as HTMLInputElement).value).toBe("回访"); // still filled
  });

  it("shows only the new answer's errors when the API refuses again", async () => {
    const submit = vi.fn()
      .mockRejectedValueOnce(refused([{ field: "subject", message: "subject is required" }]))
      .mockRejectedValueOnce(refused([{ field: "body", message: "body is not allowed" }]));
    renderForm(submit);
    save();
    await screen.findByText("subject is required", {}, wait);
    type("Subject", "回访");
    save();
    const error = await screen.findByText("body is not allowed", {}, wait);
    expect(error.closest(".ant-form-item")).toBe(itemOf("Body"));
    await waitFor(() => expect(screen.queryByText("subject is required")).toBeNull(), wait);
  });

  it("leaves antd's own message on a field edited while the submit was on its way", async () => {
    let accept: (v: unknown) => void = () => undefined;
    const submit = vi.fn()
      .mockRejectedValueOnce(refused([{ field: "subject", message: "subject is required" }]))
      .mockImplementationOnce(() => new Promise((resolve) => { accept = resolve; }));
    renderForm(submit);
    save();
    await screen.findByText("subject is required", {}, wait);
    type("Subject", "回访");
    save();
    await waitFor(() => expect(submit).toHaveBeenCalledTimes(2), wait);
    type("Body", "far too long");
    await screen.findByText("body too long", {}, wait);
    accept({ id: "i-1" });
    await waitFor(() => expect(screen.queryByText("subject is required")).toBeNull(), wait);
    expect(screen.getByText("body too long").closest(".ant-form-item")).toBe(itemOf("Body"));
  });
});
