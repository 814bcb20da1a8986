// One MCP runtime as the Tools panel uses it: a session (McpClient) opened when the panel mounts — initialize, then
// tools/list — and ended (DELETE) when it unmounts; calls go through the same client, so through the same session
// and the token store's refresh. Holds no token; turns refusals into one error line.
import { useCallback, useEffect, useState } from "react";
import { McpClient, McpError, SignedOut, type McpTool, type McpToolResult, type TokenStore } from "@gatehouse/client";

export interface McpTarget {
  gatewayUrl: string;
  arn: string;
  tokens: TokenStore;
}

/** The error line for a refusal. */
export function describeMcpError(e: unknown): string {
  if (e instanceof McpError) return `${e.status}${e.code !== undefined ? ` (JSON-RPC ${e.code})` : ""}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export function useMcpTools({ gatewayUrl, arn, tokens }: McpTarget) {
  const [client, setClient] = useState<McpClient | undefined>();
  const [tools, setTools] = useState<McpTool[] | undefined>();
  const [error, setError] = useState("");

  useEffect(() => {
    const c = new McpClient({ gatewayUrl, arn, tokens });
    let live = true;
    setClient(undefined);
    setTools(undefined);
    setError("");
    c.listTools()
      .then((t) => {
        if (!live) return;
        setClient(c);
        setTools(t);
      })
      .catch((e: unknown) => {
        if (live && !(e instanceof SignedOut)) setError(describeMcpError(e));
      });
    return () => {
      live = false;
      // Signed out already, or the session is gone: nothing left to end.
      void c.close().catch(() => undefined);
    };
  }, [gatewayUrl, arn, tokens]);

  const call = useCallback(
    async (name: string, args: Record<string, unknown> = {}): Promise<McpToolResult | undefined> => {
      if (!client) return undefined;
      setError("");
      try {
        return await client.callTool(name, args);
      } catch (e) {
        if (!(e instanceof SignedOut)) setError(describeMcpError(e));
        return undefined;
      }
    },
    [client],
  );

  return { tools, error, call, ready: client !== undefined };
}
