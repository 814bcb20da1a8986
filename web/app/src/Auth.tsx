// Sign in (SRP by default, or USER_PASSWORD_AUTH, or on the IdP's hosted page when config.json offers it), sign up,
// confirm the code, reset a forgotten password, and set a new password when the account has a temporary one. Holds
// the screens' shared state and turns every refusal (a hosted sign-in's too) into the error line; the screens
// themselves are in auth/screens.tsx.
import { useState, type ReactNode } from "react";
import { ChallengeRequired, CognitoError, beginHostedSignIn, describeError, type AppConfig, type UserPool, type TokenStore } from "@gatehouse/client";
import { Confirm, Forgot, NewPassword, Reset, SignIn, SignUp, type Fields, type Mode, type ScreenProps } from "./auth/screens.tsx";

interface Props {
  config: AppConfig;
  pool: UserPool;
  tokens: TokenStore;
  /** Why the hosted sign-in that brought the browser back did not complete. */
  initialError?: string;
}

const SCREENS: Record<Mode, (p: ScreenProps) => ReactNode> = {
  signin: SignIn,
  signup: SignUp,
  confirm: Confirm,
  forgot: Forgot,
  reset: Reset,
  newpassword: NewPassword,
};

export function Auth({ config, pool, tokens, initialError = "" }: Props) {
  const [mode, setMode] = useState<Mode>("signin");
  const [fields, setFields] = useState<Fields>({ username: "", email: "", password: "", code: "", flow: "USER_SRP_AUTH" });
  const [error, setError] = useState(initialError);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const [challenge, setChallenge] = useState<ChallengeRequired | null>(null);

  const set =
    <K extends keyof Fields>(k: K) =>
    (v: Fields[K]) =>
      setFields((f) => ({ ...f, [k]: v }));

  const go = (m: Mode, msg = "") => {
    setMode(m);
    setError("");
    setNotice(msg);
    setFields((f) => ({ ...f, password: "", code: "" }));
  };

  const run = async (fn: () => Promise<void>) => {
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
  const submit = (fn: () => Promise<void>) => () => void run(fn);
  // Leaves for the IdP's page (which comes back to the callback App.tsx completes).
  const hostedSignIn = config.oauth
    ? () =>
        void run(async () => {
          await beginHostedSignIn(config);
        })
    : undefined;

  const Screen = SCREENS[mode];
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
      <Screen {...{ pool, tokens, fields, set, busy, submit, go, setNotice, setError, challenge, hostedSignIn }} />
    </main>
  );
}
