// The Tools panel: the tools an MCP runtime lists (tools/list through the gateway) and a button calling `whoami`,
// whose answer — the user id the gateway derived from the token, and what else reached the server — is shown.
// Shown by the chat view only when config.json names an MCP runtime; renders, never stores anything.
import { useState } from "react";
import type { McpToolResult, RuntimeInfo, TokenStore } from "@gatehouse/client";
import { useMcpTools } from "./useMcpTools.ts";

interface WhoAmI {
  user_id?: unknown;
  session_id?: unknown;
  mcp_session_id?: unknown;
}

/** What `whoami` says, from its structured content or else its first text block. */
function whoami(r: McpToolResult): WhoAmI {
  if (r.structuredContent && typeof r.structuredContent === "object") return r.structuredContent;
  try {
    return JSON.parse(r.content.find((c) => c.type === "text")?.text ?? "{}") as WhoAmI;
  } catch {
    return {};
  }
}

export function ToolsPanel({ gatewayUrl, runtime, tokens }: { gatewayUrl: string; runtime: RuntimeInfo; tokens: TokenStore }) {
  const { tools, error, call, ready } = useMcpTools({ gatewayUrl, arn: runtime.arn, tokens });
  const [result, setResult] = useState<McpToolResult | undefined>();
  const [busy, setBusy] = useState(false);
  const hasWhoami = tools?.some((t) => t.name === "whoami") ?? false;

  const callWhoami = async () => {
    setBusy(true);
    setResult(await call("whoami"));
    setBusy(false);
  };

  const who = result ? whoami(result) : undefined;
  return (
    <section className="tools" data-testid="tools-panel" aria-label="MCP tools">
      <h2>
        Tools <span className="hint">MCP runtime {runtime.name}</span>
      </h2>
      {!tools && !error && <p className="hint" data-testid="tools-loading">Listing tools…</p>}
      {tools && (
        <ul className="tool-list" data-testid="tools-list">
          {tools.map((t) => (
            <li key={t.name} data-testid="tool" data-name={t.name} title={t.description ?? ""}>
              {t.name}
            </li>
          ))}
        </ul>
      )}
      <button type="button" data-testid="call-whoami" disabled={!ready || !hasWhoami || busy} onClick={() => void callWhoami()}>
        Call whoami
      </button>
      {error && (
        <p className="error" role="alert" data-testid="tools-error">
          {error}
        </p>
      )}
      {result && who && (
        <div className="tool-result" data-testid="whoami-result" data-error={result.isError ? "true" : "false"}>
          <p>
            User id: <code data-testid="whoami-user-id">{typeof who.user_id === "string" ? who.user_id : "(none)"}</code>
          </p>
          <pre>{result.content.map((c) => c.text ?? `[${c.type}]`).join("\n")}</pre>
        </div>
      )}
    </section>
  );
}
