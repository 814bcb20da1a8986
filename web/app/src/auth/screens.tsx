// One small component per sign-in screen: sign in (with the hosted page's button when config.json offers it), sign
// up, confirm, forgot password, reset, new password. Each renders its fields and says what its submit does through
// `submit`; the state and the error handling live in Auth.tsx. Never holds a password longer than the form does.
import { describeError, type ChallengeRequired, type SignInFlow, type TokenStore, type UserPool } from "@gatehouse/client";
import { AuthForm, Field, LinkButton } from "./parts.tsx";

export type Mode = "signin" | "signup" | "confirm" | "forgot" | "reset" | "newpassword";

export interface Fields {
  username: string;
  email: string;
  password: string;
  code: string;
  flow: SignInFlow;
}

/** What every screen gets from Auth.tsx. */
export interface ScreenProps {
  pool: UserPool;
  tokens: TokenStore;
  fields: Fields;
  set: <K extends keyof Fields>(k: K) => (v: Fields[K]) => void;
  busy: boolean;
  /** Runs a request with the busy flag, the error line and the challenge handling of Auth.tsx. */
  submit: (fn: () => Promise<void>) => () => void;
  /** Switches to another screen, with an optional notice. */
  go: (m: Mode, notice?: string) => void;
  setNotice: (s: string) => void;
  setError: (s: string) => void;
  challenge: ChallengeRequired | null;
  /** Starts the sign-in on the IdP's hosted page; absent when config.json does not offer it. */
  hostedSignIn?: (() => void) | undefined;
}

const BackToSignIn = ({ go }: Pick<ScreenProps, "go">) => <LinkButton onClick={() => go("signin")}>Back to sign in</LinkButton>;

export function SignIn({ pool, tokens, fields, set, busy, submit, go, hostedSignIn }: ScreenProps) {
  return (
    <>
      <AuthForm
        testId="signin-form"
        title="Sign in"
        busy={busy}
        submitLabel="Sign in"
        busyLabel="Signing in…"
        submitTestId="signin"
        onSubmit={submit(async () => {
          const r = await pool.signIn(fields.username, fields.password, fields.flow);
          set("password")("");
          tokens.set(r, fields.username);
        })}
        links={
          <>
            <LinkButton testId="to-signup" onClick={() => go("signup")}>
              Create an account
            </LinkButton>
            <LinkButton testId="to-forgot" onClick={() => go("forgot")}>
              Forgot your password?
            </LinkButton>
            <LinkButton testId="to-confirm" onClick={() => go("confirm")}>
              Have a confirmation code?
            </LinkButton>
          </>
        }
      >
        <Field label="Username" name="username" value={fields.username} onChange={set("username")} autoComplete="username" />
        <Field label="Password" name="password" type="password" value={fields.password} onChange={set("password")} autoComplete="current-password" />
        <label>
          Method
          <select data-testid="flow" value={fields.flow} onChange={(e) => set("flow")(e.target.value as SignInFlow)}>
            <option value="USER_SRP_AUTH">SRP (the password never leaves this page)</option>
            <option value="USER_PASSWORD_AUTH">Password (USER_PASSWORD_AUTH)</option>
          </select>
        </label>
      </AuthForm>
      {hostedSignIn && (
        <section className="hosted" aria-label="Other ways to sign in">
          <p className="divider" aria-hidden="true">
            or
          </p>
          <button type="button" className="secondary" data-testid="hosted-signin" disabled={busy} aria-describedby="hosted-hint" onClick={hostedSignIn}>
            Sign in with the hosted page
          </button>
          <p className="hint" id="hosted-hint">
            Signs in on the identity provider's own page, then brings you back here.
          </p>
        </section>
      )}
    </>
  );
}

export function SignUp({ pool, fields, set, busy, submit, go }: ScreenProps) {
  return (
    <AuthForm
      testId="signup-form"
      title="Create an account"
      busy={busy}
      submitLabel="Create account"
      submitTestId="signup"
      onSubmit={submit(async () => {
        const r = await pool.signUp(fields.username, fields.password, fields.email);
        set("password")("");
        if (r.UserConfirmed) go("signin", "Account created. Sign in.");
        else go("confirm", `Account created. We sent a confirmation code to ${fields.email}.`);
      })}
      links={<BackToSignIn go={go} />}
    >
      <Field label="Username" name="username" value={fields.username} onChange={set("username")} autoComplete="username" />
      <Field label="E-mail" name="email" type="email" value={fields.email} onChange={set("email")} autoComplete="email" />
      <Field label="Password" name="password" type="password" value={fields.password} onChange={set("password")} autoComplete="new-password" />
      <p className="hint">8 or more characters with upper- and lower-case letters, a digit and a symbol.</p>
    </AuthForm>
  );
}

export function Confirm({ pool, fields, set, busy, submit, go, setNotice, setError }: ScreenProps) {
  const resend = () => {
    setError("");
    pool
      .resendCode(fields.username)
      .then(() => setNotice("We sent a new code."))
      .catch((e: unknown) => setError(describeError(e)));
  };
  return (
    <AuthForm
      testId="confirm-form"
      title="Confirm your account"
      busy={busy}
      submitLabel="Confirm"
      submitTestId="confirm"
      onSubmit={submit(async () => {
        await pool.confirmSignUp(fields.username, fields.code.trim());
        go("signin", "Account confirmed. Sign in.");
      })}
      links={
        <>
          <LinkButton testId="resend" disabled={busy || !fields.username} onClick={resend}>
            Send a new code
          </LinkButton>
          <BackToSignIn go={go} />
        </>
      }
    >
      <Field label="Username" name="username" value={fields.username} onChange={set("username")} autoComplete="username" />
      <Field label="Code" name="code" value={fields.code} onChange={set("code")} autoComplete="one-time-code" />
    </AuthForm>
  );
}

export function Forgot({ pool, fields, set, busy, submit, go }: ScreenProps) {
  return (
    <AuthForm
      testId="forgot-form"
      title="Reset your password"
      busy={busy}
      submitLabel="Send a code"
      submitTestId="forgot"
      onSubmit={submit(async () => {
        await pool.forgotPassword(fields.username);
        go("reset", "If the account exists, we sent it a code.");
      })}
      links={<BackToSignIn go={go} />}
    >
      <Field label="Username" name="username" value={fields.username} onChange={set("username")} autoComplete="username" />
    </AuthForm>
  );
}

export function Reset({ pool, fields, set, busy, submit, go }: ScreenProps) {
  return (
    <AuthForm
      testId="reset-form"
      title="Choose a new password"
      busy={busy}
      submitLabel="Change password"
      submitTestId="reset"
      onSubmit={submit(async () => {
        await pool.confirmForgotPassword(fields.username, fields.code.trim(), fields.password);
        go("signin", "Password changed. Sign in with the new one.");
      })}
    >
      <Field label="Code" name="code" value={fields.code} onChange={set("code")} autoComplete="one-time-code" />
      <Field label="New password" name="password" type="password" value={fields.password} onChange={set("password")} autoComplete="new-password" />
    </AuthForm>
  );
}

export function NewPassword({ pool, tokens, fields, set, busy, submit, challenge }: ScreenProps) {
  return (
    <AuthForm
      testId="newpassword-form"
      title="Choose a new password"
      busy={busy}
      submitLabel="Set password and sign in"
      onSubmit={submit(async () => {
        if (!challenge) throw new Error("sign in again");
        const r = await pool.completeNewPassword(challenge, fields.password);
        set("password")("");
        tokens.set(r, fields.username);
      })}
    >
      <Field label="New password" name="password" type="password" value={fields.password} onChange={set("password")} autoComplete="new-password" />
    </AuthForm>
  );
}
