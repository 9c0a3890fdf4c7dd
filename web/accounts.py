"""Accounts, with Django's own auth: sign in (rate-limited), sign up, sign out.

Signing in or up gives the browser's anonymous sandboxes to the account (`adopt_sandboxes`,
on Django's user_logged_in signal), so work made before signing up is kept.
"""
from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import LoginView
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from cluster import sandbox
from cluster.apiserver.handlers import access
from web import limits


@receiver(user_logged_in)
def adopt_sandboxes(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    learner = request.session.get(access.LEARNER_KEY, "")
    if isinstance(learner, str) and learner:
        sandbox.adopt(user, learner)


# --- sign-in attempts -------------------------------------------------------------------

def _keys(request: HttpRequest, username: str) -> list[tuple[str, int]]:
    """Counters of failed attempts: one per account name (known or not: the answer must not
    tell them apart) and one per client address."""
    name = hashlib.sha256(username.strip().lower().encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return [
        (f"podflow:signin:user:{name}", settings.PODFLOW_SIGNIN_FAILURES_PER_ACCOUNT),
        (f"podflow:signin:ip:{limits.client_address(request)}", settings.PODFLOW_SIGNIN_FAILURES_PER_IP),
    ]


def locked_out_for(request: HttpRequest, username: str) -> int:
    """Seconds until another sign-in may be tried, or 0."""
    return max(limits.wait_seconds(key, limit) for key, limit in _keys(request, username))


def record_failure(request: HttpRequest, username: str) -> None:
    for key, _limit in _keys(request, username):
        limits.count(key, settings.PODFLOW_SIGNIN_WINDOW_SECONDS)


class SignInView(LoginView):
    """Django's LoginView, refusing for a while after too many failed attempts (per account
    name and per address) with 429. The form's own error never says whether the account
    exists; nor does the lockout, which counts unknown names as it counts known ones."""

    template_name = "registration/login.html"
    redirect_authenticated_user = False

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = str(request.POST.get("username", ""))[:150]
        wait = locked_out_for(request, username)
        if wait:
            return self._locked_out(wait)
        response = super().post(request, *args, **kwargs)
        if not request.user.is_authenticated:
            record_failure(request, username)
            wait = locked_out_for(request, username)
            if wait:
                return self._locked_out(wait)
        return response

    def _locked_out(self, seconds: int) -> HttpResponse:
        context = self.get_context_data(form=self.get_form_class()(self.request))
        context["locked_out_seconds"] = seconds
        context["locked_out_minutes"] = max(1, (seconds + 59) // 60)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(seconds)
        return response


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """A new account with Django's UserCreationForm; signed in at once, with this browser's
    sandboxes."""
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form}, status=400 if request.method == "POST" else 200)
