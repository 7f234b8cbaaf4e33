// The own-password change: what the form checks before sending, and the body it sends. The API
// needs the current password to change one's own (a session left open is not enough).

export interface PasswordForm {
  current: string;
  password: string;
  again: string;
}

export const MIN_PASSWORD = 10;

/** The form's problems by field name (the names the API's 400 uses), empty when it may be sent. */
export function passwordProblems(form: PasswordForm): Record<string, string> {
  const found: Record<string, string> = {};
  if (!form.current) found.current_password = "your current password is needed to change it";
  if (form.password.length < MIN_PASSWORD) found.password = `at least ${MIN_PASSWORD} characters`;
  else if (form.password === form.current) found.password = "the same as the current password";
  if (form.again !== form.password) found.again = "the two entries differ";
  return found;
}

/** The body of PATCH /user/me. */
export function passwordBody(form: PasswordForm): { password: string; current_password: string } {
  return { password: form.password, current_password: form.current };
}
