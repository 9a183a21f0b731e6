import { render } from "preact";
import { App } from "./app";
import "./styles/base.css";
import "./styles/app.css";
import "./styles/panels.css";
import "./styles/outputs.css";
import "./styles/notebook.css";

render(<App />, document.getElementById("app")!);
