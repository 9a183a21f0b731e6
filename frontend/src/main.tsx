import { render } from "preact";
import { App } from "./app";
import { applySettings, loadSettings } from "./settings";
import "./styles/base.css";
import "./styles/app.css";
import "./styles/panels.css";
import "./styles/outputs.css";
import "./styles/notebook.css";

applySettings(loadSettings());
// a stylesheet still loading was not there to be found: once everything is, apply again
addEventListener("load", () => applySettings(loadSettings()));
render(<App />, document.getElementById("app")!);
