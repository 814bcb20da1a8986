// Sign in (SRP by default, or USER_PASSWORD_AUTH), sign up, confirm the code, reset a forgotten password, and set
// a new password when the account has a temporary one.
import { useState, type FormEvent, type ReactNode } from "react";
import { ChallengeRequired, CognitoError, describeError, type SignInFlow, type UserPool, type TokenStore } from "@gatehouse/client";

type Mode = "signin" | "signup" | "confirm" | "forgot" | "reset" | "newpassword";

interface Props {
  pool: UserPool;
  tokens: TokenStore;
}

function Field(props: { label: string; name: string; type?: string; value: string; onChange: (v: string) => void; autoComplete?: string }) {
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

export function Auth({ pool, tokens }: Props) {
  const [mode, setMode] = useState<Mode>("signin");
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [flow, setFlow] = useState<SignInFlow>("USER_SRP_AUTH");
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const [challenge, setChallenge] = useState<ChallengeRequired | null>(null);

  const go = (m: Mode, msg = "") => {
    setMode(m);
    setError("");
    setNotice(msg);
    setPassword("");
    setCode("");
  };

  const run = (fn: () => Promise<void>) => async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    setNotice("");
    try {
      await fn();
    } catch (err) {
      if (err instanceof ChallengeRequired && err.challenge === "NEW_PASSWORD_REQUIRED") {
        setChallenge(err);
        go("newpassword", "Your password is temporary: choose a new one.");
      } else if (err instanceof CognitoError && err.type === "UserNotConfirmedException") {
        go("confirm");
        setError(describeError(err));
      } else {
        setError(describeError(err));
      }
    } finally {
      setBusy(false);
    }
  };

  let form: ReactNode;
  switch (mode) {
    case "signin":
      form = (
        <form
          data-testid="signin-form"
          onSubmit={run(async () => {
            const r = await pool.signIn(username, password, flow);
            setPassword("");
            tokens.set(r, username);
          })}
        >
          <h2>Sign in</h2>
          <Field label="Username" name="username" value={username} onChange={setUsername} autoComplete="username" />
          <Field label="Password" name="password" type="password" value={password} onChange={setPassword} autoComplete="current-password" />
          <label>
            Method
            <select data-testid="flow" value={flow} onChange={(e) => setFlow(e.target.value as SignInFlow)}>
              <option value="USER_SRP_AUTH">SRP (the password never leaves this page)</option>
              <option value="USER_PASSWORD_AUTH">Password (USER_PASSWORD_AUTH)</option>
            </select>
          </label>
          <button type="submit" data-testid="signin" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
          <p className="links">
            <button type="button" className="link" data-testid="to-signup" onClick={() => go("signup")}>
              Create an account
            </button>
            <button type="button" className="link" data-testid="to-forgot" onClick={() => go("forgot")}>
              Forgot your password?
            </button>
            <button type="button" className="link" data-testid="to-confirm" onClick={() => go("confirm")}>
              Have a confirmation code?
            </button>
          </p>
        </form>
      );
      break;
    case "signup":
      form = (
        <form
          data-testid="signup-form"
          onSubmit={run(async () => {
            const r = await pool.signUp(username, password, email);
            setPassword("");
            if (r.UserConfirmed) go("signin", "Account created. Sign in.");
            else go("confirm", `Account created. We sent a confirmation code to ${email}.`);
          })}
        >
          <h2>Create an account</h2>
          <Field label="Username" name="username" value={username} onChange={setUsername} autoComplete="username" />
          <Field label="E-mail" name="email" type="email" value={email} onChange={setEmail} autoComplete="email" />
          <Field label="Password" name="password" type="password" value={password} onChange={setPassword} autoComplete="new-password" />
          <p className="hint">8 or more characters with upper- and lower-case letters, a digit and a symbol.</p>
          <button type="submit" data-testid="signup" disabled={busy}>
            Create account
          </button>
          <p className="links">
            <button type="button" className="link" onClick={() => go("signin")}>
              Back to sign in
            </button>
          </p>
        </form>
      );
      break;
    case "confirm":
      form = (
        <form
          data-testid="confirm-form"
          onSubmit={run(async () => {
            await pool.confirmSignUp(username, code.trim());
            go("signin", "Account confirmed. Sign in.");
          })}
        >
          <h2>Confirm your account</h2>
          <Field label="Username" name="username" value={username} onChange={setUsername} autoComplete="username" />
          <Field label="Code" name="code" value={code} onChange={setCode} autoComplete="one-time-code" />
          <button type="submit" data-testid="confirm" disabled={busy}>
            Confirm
          </button>
          <p className="links">
            <button
              type="button"
              className="link"
              data-testid="resend"
              disabled={busy || !username}
              onClick={() => {
                setError("");
                pool
                  .resendCode(username)
                  .then(() => setNotice("We sent a new code."))
                  .catch((e: unknown) => setError(describeError(e)));
              }}
            >
              Send a new code
            </button>
            <button type="button" className="link" onClick={() => go("signin")}>
              Back to sign in
            </button>
          </p>
        </form>
      );
      break;
    case "forgot":
      form = (
        <form
          data-testid="forgot-form"
          onSubmit={run(async () => {
            await pool.forgotPassword(username);
            go("reset", "If the account exists, we sent it a code.");
          })}
        >
          <h2>Reset your password</h2>
          <Field label="Username" name="username" value={username} onChange={setUsername} autoComplete="username" />
          <button type="submit" data-testid="forgot" disabled={busy}>
            Send a code
          </button>
          <p className="links">
            <button type="button" className="link" onClick={() => go("signin")}>
              Back to sign in
            </button>
          </p>
        </form>
      );
      break;
    case "reset":
      form = (
        <form
          data-testid="reset-form"
          onSubmit={run(async () => {
            await pool.confirmForgotPassword(username, code.trim(), password);
            go("signin", "Password changed. Sign in with the new one.");
          })}
        >
          <h2>Choose a new password</h2>
          <Field label="Code" name="code" value={code} onChange={setCode} autoComplete="one-time-code" />
          <Field label="New password" name="password" type="password" value={password} onChange={setPassword} autoComplete="new-password" />
          <button type="submit" data-testid="reset" disabled={busy}>
            Change password
          </button>
        </form>
      );
      break;
    case "newpassword":
      form = (
        <form
          data-testid="newpassword-form"
          onSubmit={run(async () => {
            if (!challenge) throw new Error("sign in again");
            const r = await pool.completeNewPassword(challenge, password);
            setPassword("");
            tokens.set(r, username);
          })}
        >
          <h2>Choose a new password</h2>
          <Field label="New password" name="password" type="password" value={password} onChange={setPassword} autoComplete="new-password" />
          <button type="submit" disabled={busy}>
            Set password and sign in
          </button>
        </form>
      );
      break;
  }

  return (
    <main className="card auth">
      <h1>gatehouse</h1>
      {notice && (
        <p className="notice" data-testid="notice" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p className="error" data-testid="error" role="alert">
          {error}
        </p>
      )}
      {form}
    </main>
  );
}
