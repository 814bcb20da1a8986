// The conversation as the chat view shows it: an append-only list of messages with stable ids, and in-place
// updates for the one reply that is still streaming. Pure React state; knows nothing of transports.
import { useCallback, useRef, useState } from "react";

export interface Message {
  id: number;
  role: "user" | "agent" | "system";
  text: string;
  streaming?: boolean;
  turn?: number;
}

export function useMessages() {
  const [messages, setMessages] = useState<Message[]>([]);
  const nextId = useRef(1);
  const add = useCallback((m: Omit<Message, "id">) => {
    const id = nextId.current++;
    setMessages((ms) => [...ms, { ...m, id }]);
    return id;
  }, []);
  const update = useCallback((id: number, f: (m: Message) => Message) => {
    setMessages((ms) => ms.map((m) => (m.id === id ? f(m) : m)));
  }, []);
  const clear = useCallback(() => setMessages([]), []);
  return { messages, add, update, clear };
}
