// A small typed dictionary per area: English is the reference, zh-CN must have the same keys
// (a missing key is a type error), and `{name}` placeholders are filled at call time.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";

export const LOCALES = ["zh-CN", "en"] as const;
export type Locale = (typeof LOCALES)[number];
export type Dictionary = Record<string, string>;
export type Messages<T extends Dictionary> = { en: T; "zh-CN": { [K in keyof T]: string } };
/** A label given inline in both languages (nav entries, small one-offs). */
export type Label = { en: string; "zh-CN": string };

export function defineMessages<T extends Dictionary>(messages: Messages<T>): Messages<T> {
  return messages;
}

const STORAGE_KEY = "shuniu.locale";

export function initialLocale(): Locale {
  const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "zh-CN") return saved;
  const browser = globalThis.navigator?.language ?? "zh-CN";
  return browser.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function interpolate(text: string, vars?: Record<string, string | number>): string {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

interface LocaleState {
  locale: Locale;
  setLocale: (locale: Locale) => void;
}

const LocaleContext = createContext<LocaleState>({ locale: "zh-CN", setLocale: () => undefined });

export function LocaleProvider({ children, initial }: { children: ReactNode; initial?: Locale }) {
  const [locale, setState] = useState<Locale>(initial ?? initialLocale());
  const setLocale = useCallback((next: Locale) => {
    globalThis.localStorage?.setItem(STORAGE_KEY, next);
    document.documentElement.lang = next;
    setState(next);
  }, []);
  const value = useMemo(() => ({ locale, setLocale }), [locale, setLocale]);
  return <LocaleContext.Provider value={value}>{children}</LocaleContext.Provider>;
}

export function useLocale(): LocaleState {
  return useContext(LocaleContext);
}

/** `const t = useT(messages); t("title", { n: 3 })` — keys are checked against the dictionary. */
export function useT<T extends Dictionary>(messages: Messages<T>) {
  const { locale } = useLocale();
  return useCallback(
    (key: keyof T & string, vars?: Record<string, string | number>) =>
      interpolate((messages[locale] as Record<string, string>)[key] ?? messages.en[key] ?? key, vars),
    [locale, messages],
  );
}

export function useLabel(): (label: Label) => string {
  const { locale } = useLocale();
  return useCallback((label: Label) => label[locale], [locale]);
}
