"""Login, logout and users."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from calamari.api.access import CSRF_COOKIE, SESSION_COOKIE, retry_after_header, secure_cookies
from calamari.api.common import ApiError, current_user, doc, json_response, parse_body, services
from calamari.api.lookup import found
from calamari.api.schemas import Login, UserCreate, UserUpdate
from calamari.domain.user import ADMIN, UserError
from calamari.service.auth import LoginThrottled, NoSuchUser, UserExists

blueprint = Blueprint("auth", __name__, url_prefix="/api/v2")

SESSION_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string"}, "kind": {"type": "string"}, "current": {"type": "boolean"},
    "issued": {"type": ["number", "null"]}, "last_used": {"type": "number"},
    "expires": {"type": "number", "description": "when it ends unless used again (seconds since the epoch)"}}}
USER_SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}, "username": {"type": "string"},
                                                 "email": {"type": "string"}, "role": {"type": "string"}}}


def user_row(user: object) -> dict[str, str]:
    return {"id": user.username, "username": user.username, "email": user.email, "role": user.role}


@blueprint.post("/auth/login")
@doc("Log in: a bearer token for programs, a session cookie and CSRF token for browsers", body=Login,
     response={"type": "object", "required": ["token"], "properties": {"token": {"type": "string"},
                                                                        "csrf_token": {"type": "string"}}},
     errors=(400, 401, 429))
def login() -> Response:
    body = parse_body(Login)
    try:
        issued = services().auth.login(body.username, body.password, address=request.remote_addr or "")
    except LoginThrottled as err:
        return _throttled(err)
    if issued is None:
        raise ApiError(401, "invalid username or password")
    token, csrf = issued
    response = json_response({"token": token, "csrf_token": csrf, "username": body.username})
    secure = secure_cookies(current_app)
    # SameSite=Strict: no other site can make a browser send the session; the CSRF cookie is
    # readable by our own pages (they copy it into the X-CSRFToken header), the session is not.
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/api/")
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="Strict", secure=secure, path="/")
    return response


def _throttled(err: LoginThrottled) -> Response:
    detail = ("too many failed logins: locked, try again later" if err.locked
              else "too many failed logins: wait before trying again")
    return json_response({"detail": detail, "retry_after": round(err.retry_after, 1)}, 429,
                         headers={"Retry-After": retry_after_header(err.retry_after)})


@blueprint.post("/auth/logout")
@doc("Log out: the token (bearer or cookie) stops working", response={"type": "object"}, errors=(401,))
def logout() -> Response:
    services().auth.logout(current_user())
    response = json_response({"detail": "logged out"})
    response.delete_cookie(SESSION_COOKIE, path="/api/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@blueprint.get("/auth/token")
@doc("The caller's live sessions (tokens), by id; `current` marks the one of this request",
     response={"type": "array", "items": SESSION_SCHEMA}, errors=(401,))
def my_sessions() -> Response:
    me = current_user()
    rows = services().auth.sessions(me.username)
    return json_response([{**row, "current": row["id"] == me.token_id} for row in rows])


@blueprint.delete("/auth/token/<session_id>")
@doc("End one of the caller's sessions (its token stops working)", response={"type": "object"},
     errors=(401, 404))
def revoke_my_session(session_id: str) -> Response:
    if not services().auth.revoke_session(current_user().username, session_id):
        raise ApiError(404, f"you have no session {session_id!r}")
    return json_response({"detail": f"session {session_id} ended"})


@blueprint.delete("/user/<name>/token")
@doc("End every session of a user (admins; anyone for themselves)",
     response={"type": "object", "properties": {"revoked": {"type": "integer"}}}, errors=(401, 403, 404))
def revoke_user_sessions(name: str) -> Response:
    user = _user(name)
    try:
        count = services().auth.revoke_all(user.username, current_user().username, reason="sessions ended on request")
    except NoSuchUser:
        raise _gone(user.username) from None
    return json_response({"revoked": count})


@blueprint.get("/user")
@doc("Users", response={"type": "array", "items": USER_SCHEMA}, errors=(401,))
def users() -> Response:
    return json_response([user_row(u) for u in sorted(services().auth.users(), key=lambda u: u.username)])


@blueprint.post("/user")
@doc("Add a user (admin)", body=UserCreate, response=USER_SCHEMA, status=201, errors=(400, 401, 403, 409))
def add_user() -> Response:
    body = parse_body(UserCreate, read_only=("id",))
    try:
        # the name is checked under the model's lock, where it is taken: a concurrent create of
        # the same name gets 409 whichever request wins
        user = services().auth.add_user(body.username, body.password, body.role, current_user().username,
                                        body.email)
    except UserExists:
        raise ApiError(409, "a user of this name exists", {"username": "in use"}) from None
    except UserError as err:
        raise ApiError(400, "invalid user", {err.field: err.reason}) from None
    return json_response(user_row(user), 201)


def _gone(username: str) -> ApiError:
    """A user found by the route but deleted by another request before the change was made."""
    return ApiError(404, f"no user {username!r}")


def _user(name: str) -> object:
    if name == "me":
        name = current_user().username
    return found(services().auth.get(name), f"no user {name!r}")


@blueprint.get("/user/<name>")
@doc("One user ('me': the caller)", response=USER_SCHEMA, errors=(401, 404))
def get_user(name: str) -> Response:
    return json_response(user_row(_user(name)))


@blueprint.patch("/user/<name>")
@doc("Change a user's password, role or email (admins; anyone for their own password and email). "
     "Changing one's own password needs `current_password` (400 naming it when missing or wrong; wrong "
     "ones count as failed logins, so they are throttled: 429)",
     body=UserUpdate, response=USER_SCHEMA, errors=(400, 401, 403, 404, 429))
def change_user(name: str) -> Response:
    body = parse_body(UserUpdate, read_only=("id", "username"))
    user = _user(name)
    me = current_user()
    if body.role is not None and me.role != ADMIN:
        raise ApiError(403, "only an admin may change roles")
    if body.password is not None and user.username == me.username:
        if body.current_password is None:
            raise ApiError(400, "changing your own password needs your current password",
                           {"current_password": "required to change your own password"})
        try:
            if not services().auth.verify_password(me.username, body.current_password,
                                                   address=request.remote_addr or ""):
                raise ApiError(400, "the current password is wrong", {"current_password": "wrong password"})
        except LoginThrottled as err:
            return _throttled(err)
        except NoSuchUser:
            raise _gone(user.username) from None
    try:
        user = services().auth.change_user(user.username, me.username, role=body.role, password=body.password,
                                           email=body.email)
    except NoSuchUser:
        raise _gone(user.username) from None
    except UserError as err:
        raise ApiError(400, "invalid change", {err.field: err.reason}) from None
    return json_response(user_row(user))


@blueprint.delete("/user/<name>")
@doc("Delete a user (admin)", response={"type": "object"}, errors=(400, 401, 403, 404))
def delete_user(name: str) -> Response:
    user = _user(name)
    try:
        services().auth.delete_user(user.username, current_user().username)
    except NoSuchUser:
        raise _gone(user.username) from None
    except UserError as err:
        raise ApiError(400, "cannot delete", {err.field: err.reason}) from None
    return json_response({"detail": f"deleted {user.username}"})
