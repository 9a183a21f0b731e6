// Markdown cells and text/markdown outputs: marked (GFM) + KaTeX for $...$ and $$...$$.
//
// Math is tokenized before Markdown sees it (so `_` and `*` inside formulas stay TeX) and leaves
// marked as empty placeholders carrying the TeX; the HTML is then sanitized with an allowlist in
// an inert DOMParser document (no script, iframe, on* attribute or javascript: URL survives), and
// only then are the placeholders filled with KaTeX's own output (trust: false).
import type katexModule from "katex";
import { Marked, type TokenizerAndRendererExtension, type Tokens } from "marked";
import { useEffect, useMemo, useState } from "preact/hooks";

// $$ ... $$ alone on its lines (the formula itself may span lines but holds no $$).
const BLOCK_MATH = /^ {0,3}\$\$((?:\\[\s\S]|[^\\$]|\$(?!\$))+?)\$\$[ \t]*(?:\n+|$)/;
const INLINE_DISPLAY = /^\$\$((?:\\[\s\S]|[^\\$])+?)\$\$/;
// $x$: no space just inside the dollars, no digit right after ("$5 and $10" is not math) and
// no backtick inside ("$5 or `$x$`" leaves the code span alone).
const INLINE_MATH = /^\$(?!\s)((?:\\[\s\S]|[^\\$`])+?)(?<!\s)\$(?!\d)/;
const ANY_INLINE_MATH = /\$\$(?:\\[\s\S]|[^\\$])+?\$\$|\$(?!\s)(?:\\[\s\S]|[^\\$`])+?(?<!\s)\$(?!\d)/g;

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const math: TokenizerAndRendererExtension[] = [
  {
    name: "blockMath",
    level: "block",
    start(src) {
      const m = /(?:^|\n) {0,3}\$\$/.exec(src);
      return m ? m.index + (m[0].startsWith("\n") ? 1 : 0) : undefined;
    },
    tokenizer(src) {
      const m = BLOCK_MATH.exec(src);
      if (m) return { type: "blockMath", raw: m[0], text: m[1].trim() };
      return undefined;
    },
    renderer(token) {
      return `<div class="md-math-display" data-math-display="${escapeAttr(token.text)}"></div>\n`;
    },
  },
  {
    name: "inlineMath",
    level: "inline",
    start(src) {
      const i = src.indexOf("$");
      return i < 0 ? undefined : i;
    },
    tokenizer(src) {
      let m = INLINE_DISPLAY.exec(src);
      if (m) return { type: "inlineMath", raw: m[0], text: m[1].trim(), display: true };
      m = INLINE_MATH.exec(src);
      if (m) return { type: "inlineMath", raw: m[0], text: m[1], display: false };
      return undefined;
    },
    renderer(token) {
      const attr = (token as Tokens.Generic).display ? "data-math-display" : "data-math-inline";
      return `<span ${attr}="${escapeAttr(token.text)}"></span>`;
    },
  },
];

const marked = new Marked({
  gfm: true,
  extensions: math,
  hooks: {
    // Keep `*` and `_` inside formulas from pairing up with emphasis outside them.
    emStrongMask: (src: string) => src.replace(ANY_INLINE_MATH, (m) => "a".repeat(m.length)),
  },
});

// ---- sanitizer -------------------------------------------------------------------------------

/** Removed with everything inside them. */
const DROP = new Set([
  "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "template",
  "noscript", "noembed", "noframes", "svg", "math", "link", "meta", "base", "form", "textarea",
  "select", "button", "title", "head", "audio", "video", "source", "track", "canvas", "portal",
  "dialog", "xmp", "plaintext",
]);

/** Kept, with the attributes listed (plus GLOBAL_ATTRS); anything else is unwrapped. */
const ALLOW: Record<string, string[]> = {
  a: ["href", "name"], abbr: [], b: [], blockquote: [], br: [], caption: [], center: [], cite: [],
  code: ["class"], col: ["span"], colgroup: ["span"], dd: [], del: [], details: ["open"], dfn: [],
  div: ["align"], dl: [], dt: [], em: [], figcaption: [], figure: [], font: ["color"],
  h1: [], h2: [], h3: [], h4: [], h5: [], h6: [], hr: [], i: [],
  img: ["src", "alt", "width", "height"], input: ["type", "checked", "disabled"], ins: [], kbd: [],
  li: ["value"], mark: [], ol: ["start", "type"], p: ["align"], pre: [], q: [], s: [], samp: [],
  small: [], span: [], strike: [], strong: [], sub: [], summary: [], sup: [],
  table: [], tbody: [], td: ["colspan", "rowspan", "align"], tfoot: [],
  th: ["colspan", "rowspan", "align", "scope"], thead: [], tr: [], tt: [], u: [], ul: [], var: [],
};
const GLOBAL_ATTRS = new Set(["id", "title", "lang", "dir", "data-math-inline", "data-math-display"]);

function safeUrl(value: string, forImage: boolean): boolean {
  // Browsers ignore whitespace and control characters inside a scheme: "java\nscript:".
  const v = value.replace(/[\u0000-\u0020\u007f-\u009f]/g, "").toLowerCase();
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(v);
  if (!scheme) return true; // relative, #fragment, /path
  if (scheme[1] === "http" || scheme[1] === "https") return true;
  if (forImage) return /^data:image\/(png|jpe?g|gif|webp|svg\+xml)[;,]/.test(v);
  return scheme[1] === "mailto";
}

function sanitizeChildren(parent: Element): void {
  for (const node of Array.from(parent.childNodes)) {
    if (node.nodeType === Node.COMMENT_NODE || node.nodeType === Node.PROCESSING_INSTRUCTION_NODE) {
      node.remove();
      continue;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) continue;
    const el = node as Element;
    const tag = el.localName;
    if (DROP.has(tag) || el.namespaceURI !== "http://www.w3.org/1999/xhtml") {
      el.remove();
      continue;
    }
    const allowed = ALLOW[tag];
    if (!allowed) {
      sanitizeChildren(el);
      el.replaceWith(...Array.from(el.childNodes));
      continue;
    }
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      let keep = GLOBAL_ATTRS.has(name) || allowed.includes(name);
      if (keep && name === "href") keep = safeUrl(attr.value, false);
      else if (keep && name === "src") keep = safeUrl(attr.value, true);
      else if (keep && name === "class") keep = /^language-[\w+#-]+$/.test(attr.value);
      else if (keep && name === "type" && tag === "input") keep = attr.value.toLowerCase() === "checkbox";
      if (!keep) el.removeAttribute(attr.name);
    }
    if (tag === "input") {
      if (el.getAttribute("type") !== "checkbox") {
        el.remove();
        continue;
      }
      el.setAttribute("disabled", "");
    }
    if (tag === "a" && /^https?:/i.test(el.getAttribute("href") ?? "")) {
      el.setAttribute("target", "_blank");
      el.setAttribute("rel", "noopener noreferrer");
    }
    sanitizeChildren(el);
  }
}

// ---- rendering -------------------------------------------------------------------------------

function headingIds(root: Element): void {
  const used = new Set<string>();
  for (const h of Array.from(root.querySelectorAll("h1, h2, h3, h4, h5, h6"))) {
    if (h.id) {
      used.add(h.id);
      continue;
    }
    // Jupyter's anchors: the heading's text with spaces as dashes ("#My-Title").
    const base = (h.textContent ?? "").trim().replace(/\s+/g, "-") || "section";
    let id = base;
    for (let n = 1; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    h.id = id;
  }
}

// KaTeX (about a quarter of the app's JavaScript) loads on the first formula, not with the page.
let katex: typeof katexModule | null = null;
let katexLoading: Promise<void> | null = null;

function loadKatex(): Promise<void> {
  katexLoading ??= Promise.all([import("katex"), import("katex/dist/katex.min.css")]).then(
    ([mod]) => {
      katex = mod.default;
    },
  );
  return katexLoading;
}

/** True once KaTeX is loaded; asks for it (and re-renders the caller) when `wanted`. */
export function useKatex(wanted: boolean): boolean {
  const [ready, setReady] = useState(katex !== null);
  useEffect(() => {
    if (wanted && !ready) void loadKatex().then(() => setReady(true));
  }, [wanted, ready]);
  return ready;
}

function escapeText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function renderMath(root: Element): boolean {
  const macros = {}; // \newcommand in one formula carries to the later ones of this text
  const found = root.querySelectorAll("[data-math-inline], [data-math-display]");
  for (const el of Array.from(found)) {
    const display = el.hasAttribute("data-math-display");
    const tex = el.getAttribute(display ? "data-math-display" : "data-math-inline") ?? "";
    el.removeAttribute("data-math-inline");
    el.removeAttribute("data-math-display");
    el.innerHTML = katex
      ? katex.renderToString(tex, {
        displayMode: display, throwOnError: false, strict: "ignore", trust: false, macros,
      })
      : `<code class="math-pending">${escapeText(tex)}</code>`;
  }
  return found.length > 0;
}

let lastHadMath = false;

/** Markdown source -> sanitized HTML with KaTeX formulas (exported for text/latex). */
export function markdownToHtml(source: string): string {
  const raw = marked.parse(source, { async: false });
  const doc = new DOMParser().parseFromString(`<!DOCTYPE html><body>${raw}`, "text/html");
  sanitizeChildren(doc.body);
  headingIds(doc.body);
  lastHadMath = renderMath(doc.body);
  return doc.body.innerHTML;
}

/** Whether the last markdownToHtml call met formulas (so the caller wants KaTeX). */
export function hadMath(): boolean {
  return lastHadMath;
}

/** One formula (text/latex outputs, already stripped of $$ / \[ delimiters). */
export function latexToHtml(tex: string, display = true): string {
  if (!katex) return `<code class="math-pending">${escapeText(tex)}</code>`;
  return katex.renderToString(tex, { displayMode: display, throwOnError: false, strict: "ignore" });
}

function onClick(e: MouseEvent): void {
  // The app routes on the URL's hash, so in-document links (#Section) scroll instead of navigate.
  const a = (e.target as Element | null)?.closest?.("a[href^='#']");
  if (!a) return;
  e.preventDefault();
  const id = decodeURIComponent(a.getAttribute("href")!.slice(1));
  document.getElementById(id)?.scrollIntoView({ behavior: "smooth", block: "start" });
}

export function Markdown({ source }: { source: string }) {
  const [wanted, setWanted] = useState(false);
  const ready = useKatex(wanted);
  const html = useMemo(() => {
    const out = markdownToHtml(source);
    if (hadMath() && !ready) queueMicrotask(() => setWanted(true));
    return out;
  }, [source, ready]);
  return <div class="markdown" onClick={onClick} dangerouslySetInnerHTML={{ __html: html }} />;
}
