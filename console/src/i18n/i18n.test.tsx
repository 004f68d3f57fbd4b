import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { defineMessages, interpolate, LocaleProvider, useLocale, useT } from "./index";

const messages = defineMessages({
  en: { found: "{n} found", hello: "Hello" },
  "zh-CN": { found: "找到 {n} 个", hello: "你好" },
});

function Greeting() {
  const t = useT(messages);
  const { setLocale } = useLocale();
  return (
    <>
      <p>{t("hello")} · {t("found", { n: 3 })}</p>
      <button onClick={() => setLocale("en")}>English</button>
    </>
  );
}

describe("i18n", () => {
  it("fills placeholders and leaves unknown ones visible", () => {
    expect(interpolate("{n} of {total}", { n: 1 })).toBe("1 of {total}");
  });

  it("switches language everywhere at once and remembers it", () => {
    render(<LocaleProvider initial="zh-CN"><Greeting /></LocaleProvider>);
    expect(screen.getByText("你好 · 找到 3 个")).toBeTruthy();
    fireEvent.click(screen.getByText("English"));
    expect(screen.getByText("Hello · 3 found")).toBeTruthy();
    expect(localStorage.getItem("shuniu.locale")).toBe("en");
    expect(document.documentElement.lang).toBe("en");
  });
});
