// Markdown cells and text/markdown outputs: marked (GFM) + KaTeX for $...$ and $$...$$.
//
// Math is tokenized before Markdown sees it (so `_` and `*` inside formulas stay TeX) and leaves
// marked as empty placeholders numbering the formulas; the HTML is then sanitized by DOMPurify into an
// inert document (no script, iframe, on* attribute or javascript: URL survives), and only then
// are the placeholders filled with KaTeX's own output (trust: false).
import DOMPurify, { type Config } from "dompurify";
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

// The formulas of the text being rendered; placeholders carry their index, not the TeX, so the
// sanitizer never judges TeX as markup ("E[X]>0" looks like an attribute breaking out).
let formulas: string[] = [];

function keepTex(tex: string): number {
  formulas.push(tex);
  return formulas.length - 1;
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
      return `<div class="md-math-display" data-math-display="${keepTex(token.text)}"></div>\n`;
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
      return `<span ${attr}="${keepTex(token.text)}"></span>`;
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

// DOMPurify (cure53), with its own instance so these hooks touch nothing else. The tags and
// attributes allowed are those Jupyter's Markdown needs; on top of DOMPurify's defences (no script,
// no event handler, no javascript: URL, namespace and mutation-XSS checks, no DOM clobbering ids)
// the hooks below narrow a few attributes and make links open apart from the app.
const purify = DOMPurify(window);

const PURIFY_CONFIG: Config & { RETURN_DOM: true } = {
  ALLOWED_TAGS: [
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup",
    "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "input", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
  ],
  ALLOWED_ATTR: [
    "id", "title", "lang", "dir", "data-math-inline", "data-math-display", // on any tag
    "href", "name", "class", "span", "open", "align", "color", "src", "alt", "width", "height",
    "type", "checked", "disabled", "value", "start", "colspan", "rowspan", "scope",
  ],
  ALLOW_DATA_ATTR: false,
  // removed with their contents, not unwrapped
  ADD_FORBID_CONTENTS: ["button", "select", "textarea", "object", "canvas", "dialog"],
  RETURN_DOM: true,
};

const IMAGE_DATA_URL = /^data:image\/(png|jpe?g|gif|webp|svg\+xml)[;,]/i;

purify.addHook("afterSanitizeAttributes", (node) => {
  const tag = node.nodeName.toLowerCase();
  // class: a code fence's language (for highlighting) and display math's box, never the app's
  // own classes
  const cls = node.getAttribute("class");
  if (cls !== null && !(tag === "code" && /^language-[\w+#-]+$/.test(cls))
      && !(tag === "div" && cls === "md-math-display")) {
    node.removeAttribute("class");
  }
  if (tag === "input") {
    if ((node.getAttribute("type") ?? "").toLowerCase() !== "checkbox") {
      node.remove(); // GFM task lists; nothing anyone can type into
      return;
    }
    node.setAttribute("disabled", "");
  }
  // DOMPurify lets any data: URL through on img; only images among them
  const src = node.getAttribute("src")?.trim();
  if (tag === "img" && src !== undefined && /^data:/i.test(src) && !IMAGE_DATA_URL.test(src)) {
    node.removeAttribute("src");
  }
  // a link that leaves the page opens in a tab of its own, which cannot reach back to this one
  const href = node.getAttribute("href");
  if (tag === "a" && href !== null && !href.startsWith("#")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

/** Markdown's HTML -> a sanitized tree in an inert document (nothing in it loads or runs). */
function sanitize(html: string): HTMLElement {
  return purify.sanitize(html, PURIFY_CONFIG) as HTMLElement; // RETURN_DOM: the body
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
    const index = Number(el.getAttribute(display ? "data-math-display" : "data-math-inline"));
    const tex = formulas[index] ?? "";
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
  formulas = [];
  const body = sanitize(marked.parse(source, { async: false }));
  headingIds(body);
  lastHadMath = renderMath(body);
  return body.innerHTML;
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
