// The person's settings for this browser (Tools > Settings), kept in localStorage: the theme
// (follow the system, light or dark), the editor's font size, and line numbers.
//
// The theme works on the stylesheets' own dark rules (`@media (prefers-color-scheme: dark)`):
// "light" turns them off, "dark" turns them on, "system" gives them their condition back. So
// every stylesheet has its dark colours in one place and nothing is written twice.

export type Theme = "system" | "light" | "dark";
export type Settings = { theme: Theme; fontSize: number; lineNumbers: boolean };

const KEY = "dikte.settings";
const DARK = "(prefers-color-scheme: dark)";
export const DEFAULTS: Settings = { theme: "system", fontSize: 13.5, lineNumbers: false };
export const FONT_SIZES = [12, 13.5, 15, 16.5, 18];

export function loadSettings(): Settings {
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? "{}") as Partial<Settings>;
    return {
      theme: raw.theme === "light" || raw.theme === "dark" ? raw.theme : "system",
      fontSize: FONT_SIZES.includes(Number(raw.fontSize)) ? Number(raw.fontSize) : DEFAULTS.fontSize,
      lineNumbers: raw.lineNumbers === true,
    };
  } catch {
    return { ...DEFAULTS };
  }
}

/** The media rules that hold dark colours, found once (their text is changed in place). */
let darkRules: CSSMediaRule[] | null = null;

function findDarkRules(): CSSMediaRule[] {
  const found: CSSMediaRule[] = [];
  for (const sheet of Array.from(document.styleSheets)) {
    let rules: CSSRuleList;
    try {
      rules = sheet.cssRules;
    } catch {
      continue; // another origin's sheet
    }
    for (const rule of Array.from(rules)) {
      if (rule instanceof CSSMediaRule && rule.media.mediaText.replace(/\s+/g, " ") === DARK) found.push(rule);
    }
  }
  return found;
}

export function applySettings(s: Settings): void {
  const root = document.documentElement;
  if (!darkRules || darkRules.length === 0) darkRules = findDarkRules();
  const media = s.theme === "dark" ? "all" : s.theme === "light" ? "not all" : DARK;
  for (const rule of darkRules) rule.media.mediaText = media;
  // native controls, scroll bars and output frames follow the page's scheme
  root.style.colorScheme = s.theme === "system" ? "" : s.theme;
  root.dataset.theme = s.theme;
  root.style.setProperty("--code-size", `${s.fontSize}px`);
  root.classList.toggle("line-numbers", s.lineNumbers);
}

export function saveSettings(s: Settings): void {
  localStorage.setItem(KEY, JSON.stringify(s));
  applySettings(s);
}
