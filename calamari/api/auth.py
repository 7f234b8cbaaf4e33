"""Login, logout and users."""

from __future__ import annotations

from flask import Blueprint, Response, request

from calamari.api.common import ApiError, current_user, doc, json_response, parse_body, services
from calamari.api.schemas import Login, UserCreate, UserUpdate
from calamari.domain.user import UserError

blueprint = Blueprint("auth", __name__, url_prefix="/api/v2")

USER_SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}, "username": {"type": "string"},
                                                 "email": {"type": "string"}, "role": {"type": "string"}}}


def user_row(user: object) -> dict[str, str]:
    return {"id": user.username, "username": user.username, "email": user.email, "role": user.role}


@blueprint.post("/auth/login")
@doc("Log in: a bearer token for programs, a session cookie and CSRF token for browsers", body=Login,
     response={"type": "object", "required": ["token"], "properties": {"token": {"type": "string"},
                                                                        "csrf_token": {"type": "string"}}},
     errors=(400, 401))
def login() -> Response:
    body = parse_body(Login)
    issued = services().auth.login(body.username, body.password)
    if issued is None:
        raise ApiError(401, "invalid username or password")
    token, csrf = issued
    response = json_response({"token": token, "csrf_token": csrf, "username": body.username})
    secure = request.is_secure
    response.set_cookie("calamari_session", token, httponly=True, samesite="Lax", secure=secure, path="/api/")
    response.set_cookie("csrftoken", csrf, httponly=False, samesite="Lax", secure=secure, path="/")
    return response


@blueprint.post("/auth/logout")
@doc("Log out: the token (bearer or cookie) stops working", response={"type": "object"}, errors=(401,))
def logout() -> Response:
    services().auth.logout(current_user())
    response = json_response({"detail": "logged out"})
    response.delete_cookie("calamari_session", path="/api/")
    response.delete_cookie("csrftoken", path="/")
    return response


@blueprint.get("/user")
@doc("Users", response={"type": "array", "items": USER_SCHEMA}, errors=(401,))
def users() -> Response:
    return json_response([user_row(u) for u in sorted(services().auth.users(), key=lambda u: u.username)])


@blueprint.post("/user")
@doc("Add a user (admin)", body=UserCreate, response=USER_SCHEMA, status=201, errors=(400, 401, 403, 409))
def add_user() -> Response:
    body = parse_body(UserCreate, read_only=("id",))
    auth = services().auth
    if auth.get(body.username) is not None:
        raise ApiError(409, "a user of this name exists", {"username": "in use"})
    try:
        user = auth.add_user(body.username, body.password, body.role, current_user().username, body.email)
    except UserError as err:
        raise ApiError(400, "invalid user", {err.field: err.reason}) from None
    return json_response(user_row(user), 201)


def _user(name: str) -> object:
    if name == "me":
        name = current_user().username
    user = services().auth.get(name)
    if user is None:
        raise ApiError(404, f"no user {name!r}")
    return user


@blueprint.get("/user/<name>")
@doc("One user ('me': the caller)", response=USER_SCHEMA, errors=(401, 404))
def get_user(name: str) -> Response:
    return json_response(user_row(_user(name)))


@blueprint.patch("/user/<name>")
@doc("Change a user's password, role or email (admins; anyone for their own password and email)",
     body=UserUpdate, response=USER_SCHEMA)
def change_user(name: str) -> Response:
    body = parse_body(UserUpdate, read_only=("id", "username"))
    user = _user(name)
    me = current_user()
    if body.role is not None and me.role != "admin":
        raise ApiError(403, "only an admin may change roles")
    try:
        user = services().auth.change_user(user.username, me.username, role=body.role, password=body.password,
                                           email=body.email)
    except UserError as err:
        raise ApiError(400, "invalid change", {err.field: err.reason}) from None
    return json_response(user_row(user))


@blueprint.delete("/user/<name>")
@doc("Delete a user (admin)", response={"type": "object"}, errors=(400, 401, 403, 404))
def delete_user(name: str) -> Response:
    user = _user(name)
    try:
        services().auth.delete_user(user.username, current_user().username)
    except UserError as err:
        raise ApiError(400, "cannot delete", {err.field: err.reason}) from None
    return json_response({"detail": f"deleted {user.username}"})
