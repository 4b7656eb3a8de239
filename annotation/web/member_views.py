"""Admin pages for who belongs to a project (members, invites), the public sign-up by invite, and API tokens."""

from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.api_tokens import token_create, token_revoke, tokens_for
from annotation.errors import Conflict, Gone, InvalidInput
from annotation.invites import (
    invite_accept,
    invite_accept_existing,
    invite_create,
    invite_for,
    invite_path,
    invite_revoke,
    pending_invites,
)
from annotation.members import member_add, member_remove, member_role_set, members_with_work
from annotation.models import Membership
from annotation.selectors import membership_for
from annotation.taxonomy import Role
from annotation.web.auth import session_required
from annotation.web.forms import cleaned
from annotation.web.member_forms import InviteForm, MemberAddForm, MemberRoleForm, SignUpForm, TokenForm


def _by_field(exc: InvalidInput, default: str) -> dict[str, str]:
    """Each field's first message (a form's errors, or a service's), so every problem shows at once."""
    errors: dict[str, str] = {}
    for error in exc.errors or [{"field": exc.field or default, "message": exc.message}]:
        errors.setdefault(error["field"] or default, error["message"].removeprefix(f"{error['field']}: "))
    return errors


def _status(exc) -> int:
    return 409 if isinstance(exc, Conflict) else 422


def _members_page(request, membership, *, status=200, **extra):
    project = membership.project
    context = {
        "project": project,
        "members": members_with_work(project),
        "invites": pending_invites(project),
        "roles": Role.choices,
        "add": {"values": {"role": Role.ANNOTATOR}, "errors": {}},
        "invite": {"values": {"role": Role.ANNOTATOR, "days": 7}, "errors": {}},
        "role_error": None,
    } | extra
    return render(request, "members/members.html", context, status=status)


@session_required
@require_GET
def members_page(request, slug):
    return _members_page(request, membership_for(request.user, slug, Role.ADMIN))


@session_required
@require_POST
def add_member(request, slug):
    membership = membership_for(request.user, slug, Role.ADMIN)
    form = MemberAddForm(request.POST)
    try:
        data = cleaned(form)
        member_add(project=membership.project, by=request.user, username=data["username"], role=data["role"])
    except (InvalidInput, Conflict) as exc:
        add = {"values": request.POST, "errors": _by_field(exc, "username")}
        return _members_page(request, membership, status=_status(exc), add=add)
    messages.success(request, f"{data['username']} is now a member, as {data['role']}.")
    return redirect("members", slug=slug)


@session_required
@require_POST
def change_role(request, slug, username):
    membership = membership_for(request.user, slug, Role.ADMIN)
    try:
        role = cleaned(MemberRoleForm(request.POST))["role"]
        member_role_set(project=membership.project, by=request.user, username=username, role=role)
    except (InvalidInput, Conflict) as exc:
        return _members_page(request, membership, status=_status(exc), role_error=(username, exc.message))
    messages.success(request, f"{username} is now {role}.")
    return redirect("members", slug=slug)


@session_required
@require_http_methods(["GET", "POST"])
def remove_member(request, slug, username):
    """A confirmation page (what happens to their work), then the removal."""
    membership = membership_for(request.user, slug, Role.ADMIN)
    if request.method == "POST":
        try:
            released = member_remove(project=membership.project, by=request.user, username=username)
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            leases = f"; {released} open task{'s' if released != 1 else ''} went back to the pool" if released else ""
            messages.success(request, f"{username} is no longer a member; their finished work stays{leases}.")
        return redirect("members", slug=slug)
    member = members_with_work(membership.project).filter(user__username=username).first()
    if member is None:
        messages.error(request, f"{username} is not a member of this project.")
        return redirect("members", slug=slug)
    return render(request, "members/remove.html", {"project": membership.project, "member": member})


@session_required
@require_POST
def create_invite(request, slug):
    """Make an invite and show its link this once (the page is rendered, not redirected to, so the link is in no
    URL or session)."""
    membership = membership_for(request.user, slug, Role.ADMIN)
    form = InviteForm(request.POST)
    try:
        data = cleaned(form)
        invite, token = invite_create(
            project=membership.project, by=request.user, base_url=request.build_absolute_uri("/"), **data
        )
    except InvalidInput as exc:
        invite = {"values": request.POST, "errors": _by_field(exc, "role")}
        return _members_page(request, membership, status=422, invite=invite)
    return _members_page(
        request,
        membership,
        status=201,
        created={"invite": invite, "link": request.build_absolute_uri(invite_path(token))},
    )


@session_required
@require_POST
def revoke_invite(request, slug, invite_id):
    membership = membership_for(request.user, slug, Role.ADMIN)
    try:
        invite_revoke(project=membership.project, by=request.user, invite_id=invite_id)
        messages.success(request, "Invite revoked; its link no longer works.")
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("members", slug=slug)


@require_http_methods(["GET", "POST"])
def sign_up(request, token):
    """Public: sign up through an invite link (or, logged in, join its project), then start annotating."""
    try:
        invite = invite_for(token)
    except Gone as exc:
        return render(request, "members/invite_gone.html", {"message": exc.message}, status=410)
    if request.user.is_authenticated:
        return _join(request, token, invite)
    errors, values = {}, {}
    if request.method == "POST":
        form = SignUpForm(request.POST)
        values = {"username": request.POST.get("username", ""), "email": request.POST.get("email", "")}
        try:
            user = invite_accept(token=token, **cleaned(form))
        except InvalidInput as exc:
            errors = _by_field(exc, "username")
        except Gone as exc:
            return render(request, "members/invite_gone.html", {"message": exc.message}, status=410)
        else:
            login(request, user)
            return redirect("annotate", slug=invite.project.slug)
    context = {"invite": invite, "errors": errors, "values": values}
    return render(request, "members/signup.html", context, status=422 if errors else 200)


def _join(request, token, invite):
    if request.method == "POST":
        try:
            invite_accept_existing(token=token, user=request.user)
        except Gone as exc:
            return render(request, "members/invite_gone.html", {"message": exc.message}, status=410)
        return redirect("annotate", slug=invite.project.slug)
    member = Membership.objects.filter(project=invite.project, user=request.user).first()
    return render(request, "members/join.html", {"invite": invite, "member": member})


@session_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    """The user's own API tokens; a new one's key is shown on the page that creates it, and never again."""
    created, errors, values = None, {}, {}
    if request.method == "POST":
        try:
            token, key = token_create(user=request.user, name=cleaned(TokenForm(request.POST))["name"])
            created = {"token": token, "key": key}
        except InvalidInput as exc:
            errors, values = _by_field(exc, "name"), request.POST
    context = {"tokens": tokens_for(request.user), "created": created, "errors": errors, "values": values}
    return render(request, "members/tokens.html", context, status=422 if errors else 201 if created else 200)


@session_required
@require_POST
def revoke_token(request, token_id):
    token_revoke(user=request.user, token_id=token_id)
    messages.success(request, "Token revoked; its key no longer works.")
    return redirect("tokens")
