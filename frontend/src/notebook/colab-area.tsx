// What the notebook's code asks of this tab, shown in the cell's output area: the files.upload()
// picker with its progress, and the empty sandboxed frame eval_js runs in when the cell has no
// output frame of its own. Neither is part of the stored notebook.
import { useEffect, useState } from "preact/hooks";
import { formatSize } from "../format";
import type { ColabBridge, UploadPrompt } from "./colab";
import { SandboxedFrame, frameDoc } from "./outputs";
import "../styles/colab.css";

export function ColabArea({ bridge, cellId }: { bridge: ColabBridge; cellId: string }) {
  const [, setTick] = useState(0);
  useEffect(() => bridge.subscribe(() => setTick((t) => t + 1)), [bridge]);
  const prompts = bridge.promptsFor(cellId);
  const host = bridge.hosts.has(cellId);
  if (!prompts.length && !host) return null;
  return (
    <div class="cell-output colab-area">
      {host && (
        <div class="output out-rich" data-output-type="eval_js_frame">
          <SandboxedFrame srcdoc={frameDoc("")} />
        </div>
      )}
      {prompts.map((p) => (
        <UploadPicker key={p.requestId} bridge={bridge} prompt={p} />
      ))}
    </div>
  );
}

function UploadPicker({ bridge, prompt }: { bridge: ColabBridge; prompt: UploadPrompt }) {
  if (prompt.status === "uploading") {
    return (
      <div class="colab-upload" data-output-type="upload_request" aria-live="polite">
        <ul class="colab-upload-files">
          {prompt.files.map((f) => (
            <li key={f.name}>
              {f.name} ({formatSize(f.size)}): {f.size ? Math.floor((100 * f.loaded) / f.size) : 100}% done
            </li>
          ))}
        </ul>
        <button type="button" onClick={() => bridge.cancelUpload(prompt.requestId)}>Cancel upload</button>
      </div>
    );
  }
  return (
    <div class="colab-upload" data-output-type="upload_request">
      <label class="colab-upload-choose">
        <span>Choose files to upload into the runtime:</span>
        <input
          type="file"
          multiple
          aria-label="Choose files to upload"
          onChange={(e) => {
            const files = [...((e.currentTarget as HTMLInputElement).files ?? [])];
            if (files.length) void bridge.upload(prompt.requestId, files);
          }}
        />
      </label>
      <button type="button" onClick={() => bridge.cancelUpload(prompt.requestId)}>Cancel upload</button>
    </div>
  );
}
