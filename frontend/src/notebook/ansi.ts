// Terminal text with ANSI colours as HTML: every character of the text is escaped, so kernel
// text shown this way never runs in the page.
import { AnsiUp } from "ansi_up";

export function ansiToHtml(text: string): string {
  const au = new AnsiUp(); // stateful: one per text, so colours never leak between outputs
  au.use_classes = true; // colours from outputs.css, readable in light and dark
  return au.ansi_to_html(text);
}
