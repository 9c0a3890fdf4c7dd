"""`python manage.py createinstructor <username>`: an account that may run classes.

Makes the account (or promotes an existing one) and puts it in the `instructors` group. The
password comes from --password, else PODFLOW_INSTRUCTOR_PASSWORD, else it is asked for (a
new account needs one; an existing account keeps its own unless one is given).
"""
from __future__ import annotations

import getpass
import os
import sys

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from web import classroom


class Command(BaseCommand):
    help = "Create an instructor account (or make an existing account an instructor)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="the password (else PODFLOW_INSTRUCTOR_PASSWORD, else asked for)")
        parser.add_argument("--email", default="")

    def handle(self, *args, username: str, password: str | None, email: str, **options):
        User = get_user_model()
        username = username.strip()
        if not username:
            raise CommandError("give a username")
        password = password or os.environ.get("PODFLOW_INSTRUCTOR_PASSWORD") or None
        user = User.objects.filter(username=username).first()
        if password is None and user is None:
            if not sys.stdin.isatty():
                raise CommandError("a new instructor needs a password: --password or PODFLOW_INSTRUCTOR_PASSWORD")
            password = self._ask()
        if password is not None:
            try:
                password_validation.validate_password(password, user or User(username=username, email=email))
            except ValidationError as err:
                raise CommandError("; ".join(err.messages)) from err
        with transaction.atomic():
            made = user is None
            if made:
                user = User.objects.create_user(username=username, email=email, password=password)
            else:
                if password is not None:
                    user.set_password(password)
                if email:
                    user.email = email
                if not user.is_active:
                    user.is_active = True
                user.save()
            classroom.make_instructor(user)
        what = "created" if made else "is now an instructor" + (" (password changed)" if password is not None else "")
        self.stdout.write(f"instructor {user.get_username()}: {what}")

    def _ask(self) -> str:
        for _ in range(3):
            first = getpass.getpass("Password: ")
            if first and first == getpass.getpass("Password (again): "):
                return first
            self.stderr.write("The passwords differ (or are empty); try again.")
        raise CommandError("no password given")
