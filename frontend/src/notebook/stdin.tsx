// The prompt of a running cell waiting in input() / getpass(): shown inline under its outputs.
import { useEffect, useRef, useState } from "preact/hooks";

export function InputPrompt({ prompt, password, onSubmit }: {
  prompt: string;
  password: boolean;
  onSubmit: (value: string) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [value, setValue] = useState("");
  useEffect(() => {
    input.current?.focus({ preventScroll: false });
  }, [prompt, password]);
  const field = {
    ref: input,
    value,
    onInput: (e: Event) => setValue((e.currentTarget as HTMLInputElement).value),
    // Typing here is not a notebook shortcut.
    onKeyDown: (e: KeyboardEvent) => e.stopPropagation(),
    autoFocus: true,
    autoComplete: "off",
    spellcheck: false,
    "aria-label": prompt.trim() || (password ? "Password" : "Input"),
  };
  return (
    <form
      class="input-prompt"
      data-output-type="input_request"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(value);
        setValue("");
      }}
    >
      <label>
        <span class="input-prompt-text">{prompt}</span>
        {password ? <input type="password" {...field} /> : <input type="text" {...field} />}
      </label>
    </form>
  );
}
