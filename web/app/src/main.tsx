import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { loadConfig } from "@gatehouse/client";
import { App } from "./App.tsx";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig()
  .then((config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  )
  .catch((e: unknown) =>
    root.render(
      <main className="card">
        <h1>gatehouse</h1>
        <p role="alert" className="error">
          Cannot start: {e instanceof Error ? e.message : String(e)}. Is gatehouse running and serving this page?
        </p>
      </main>,
    ),
  );
