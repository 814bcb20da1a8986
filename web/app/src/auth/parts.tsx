// The pieces every sign-in screen is made of: a labelled input, a link-styled button, and the form frame (title,
// fields, one submit button that shows when it is busy, links to the other screens). Holds no state of its own.
import type { FormEvent, ReactNode } from "react";

export function Field(props: {
  label: string;
  name: string;
  type?: string;
  value: string;
  onChange: (v: string) => void;
  autoComplete?: string;
}) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        data-testid={props.name}
        type={props.type ?? "text"}
        value={props.value}
        autoComplete={props.autoComplete}
        required
        onChange={(e) => props.onChange(e.target.value)}
      />
    </label>
  );
}

export function LinkButton(props: { testId?: string; disabled?: boolean; onClick: () => void; children: ReactNode }) {
  return (
    <button type="button" className="link" data-testid={props.testId} disabled={props.disabled} onClick={props.onClick}>
      {props.children}
    </button>
  );
}

export interface AuthFormProps {
  /** `data-testid` of the form; the e2e run finds screens by it. */
  testId: string;
  title: string;
  busy: boolean;
  submitLabel: string;
  /** Shown on the submit button while the request runs (default: the label). */
  busyLabel?: string;
  submitTestId?: string;
  onSubmit: () => void;
  links?: ReactNode;
  children: ReactNode;
}

export function AuthForm(p: AuthFormProps) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    p.onSubmit();
  };
  return (
    <form data-testid={p.testId} onSubmit={submit}>
      <h2>{p.title}</h2>
      {p.children}
      <button type="submit" data-testid={p.submitTestId} disabled={p.busy}>
        {p.busy && p.busyLabel ? p.busyLabel : p.submitLabel}
      </button>
      {p.links && <p className="links">{p.links}</p>}
    </form>
  );
}
