// Code snippets: a searchable list; inserting one adds a code cell after the focused one.
import { useState } from "preact/hooks";
import type { NotebookHandle } from "../notebook/handle";

export interface Snippet {
  title: string;
  description: string;
  source: string;
}

export const SNIPPETS: Snippet[] = [
  {
    title: "Mount Google Drive",
    description: "Your Dikte drive is mounted automatically at /content/drive/MyDrive.",
    source: `# Your drive is mounted automatically at /content/drive/MyDrive: no drive.mount() needed.
# (google.colab.drive is not available in Dikte yet.)
import os
print(os.listdir('/content/drive/MyDrive'))`,
  },
  {
    title: "Check the GPU",
    description: "Show the GPU attached to this runtime, its memory and its use.",
    source: `# Shows the runtime's GPU, its memory and what is using it (fails when the runtime has no GPU).
!nvidia-smi`,
  },
  {
    title: "Upload files",
    description: "Upload from the Files panel, then use the files under /content.",
    source: `# Upload files with the Files panel on the left (the folder icon, then Upload):
# they land in /content, next to this notebook's runtime.
!ls /content`,
  },
  {
    title: "Install a package",
    description: "Install a package into this runtime with pip.",
    source: `# Installs into this runtime; packages stay across kernel restarts.
%pip install <package>`,
  },
  {
    title: "Resume training from a checkpoint",
    description: "Save progress to the drive and pick up where a previous run stopped.",
    source: `# Keep checkpoints on the drive so they outlive the runtime.
import os, pickle

CKPT_DIR = '/content/drive/MyDrive/checkpoints'
CKPT = os.path.join(CKPT_DIR, 'state.pkl')
os.makedirs(CKPT_DIR, exist_ok=True)

def save_checkpoint(state):
    tmp = CKPT + '.tmp'
    with open(tmp, 'wb') as f:
        pickle.dump(state, f)
    os.replace(tmp, CKPT)  # atomic: a crash never leaves half a checkpoint

def load_checkpoint():
    if os.path.exists(CKPT):
        with open(CKPT, 'rb') as f:
            return pickle.load(f)
    return {'epoch': 0, 'weights': [0.0, 0.0], 'history': []}

state = load_checkpoint()
print(f"Resuming at epoch {state['epoch']}")
for epoch in range(state['epoch'], 10):
    # ... one epoch of training would go here ...
    state['weights'] = [w + 0.1 for w in state['weights']]
    state['history'].append(epoch)
    state['epoch'] = epoch + 1
    save_checkpoint(state)
print('Done:', state['epoch'], 'epochs')`,
  },
  {
    title: "Read a CSV with pandas",
    description: "Load a CSV file into a DataFrame and show its first rows.",
    source: `import pandas as pd

df = pd.read_csv('/content/drive/MyDrive/data.csv')  # or a file uploaded to /content
df.head()`,
  },
  {
    title: "Plot with matplotlib",
    description: "Draw a line plot inline.",
    source: `import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 2 * np.pi, 200)
plt.plot(x, np.sin(x), label='sin')
plt.plot(x, np.cos(x), label='cos')
plt.legend()
plt.title('A simple plot')
plt.show()`,
  },
  {
    title: "Show a progress bar with tqdm",
    description: "Wrap a loop to see its progress and speed.",
    source: `from tqdm.auto import tqdm
import time

for i in tqdm(range(100)):
    time.sleep(0.02)`,
  },
  {
    title: "Time a cell",
    description: "Measure how long a whole cell takes with %%time.",
    source: `%%time
total = sum(i * i for i in range(10_000_000))
print(total)`,
  },
];

export function SnippetsPanel({ nb }: { nb: NotebookHandle }) {
  const [query, setQuery] = useState("");
  const [error, setError] = useState("");
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = SNIPPETS.filter((s) => {
    const hay = `${s.title}\n${s.description}\n${s.source}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });

  const insert = async (s: Snippet) => {
    setError("");
    try {
      const id = await nb.insertCell(-1, "code", s.source);
      nb.focusCell(id);
    } catch (e) {
      setError((e as Error).message || "The snippet could not be inserted.");
    }
  };

  return (
    <div class="sp-snippets">
      <input
        class="sp-input"
        type="search"
        aria-label="Search snippets"
        placeholder="Search snippets"
        value={query}
        onInput={(e) => setQuery(e.currentTarget.value)}
      />
      {error && (
        <p class="sp-status sp-error" role="alert">
          {error}
        </p>
      )}
      {shown.length === 0 && <p class="sp-empty">No snippet matches “{query}”.</p>}
      <ul class="sp-snippet-list">
        {shown.map((s) => (
          <li key={s.title} class="sp-snippet">
            <div class="sp-snippet-head">
              <strong>{s.title}</strong>
              <button
                type="button"
                class="sp-btn"
                aria-label={`Insert snippet: ${s.title}`}
                onClick={() => insert(s)}
              >
                Insert
              </button>
            </div>
            <p class="sp-snippet-desc">{s.description}</p>
            <pre class="sp-snippet-code">{s.source}</pre>
          </li>
        ))}
      </ul>
    </div>
  );
}
