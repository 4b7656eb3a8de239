"""The forms of the members, sign-up and API token pages: they check shapes; the services judge the content."""

from django import forms

from annotation.api_tokens import MAX_NAME as MAX_TOKEN_NAME
from annotation.invites import MAX_DAYS
from annotation.taxonomy import Role

USERNAME = {"max_length": 150, "error_messages": {"required": "Enter a username."}}


class MemberAddForm(forms.Form):
    username = forms.CharField(**USERNAME)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)
    email = forms.EmailField(required=False, max_length=254)
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, initial=7)


class SignUpForm(forms.Form):
    username = forms.CharField(**USERNAME)
    email = forms.EmailField(required=False, max_length=254)
    password = forms.CharField(strip=False, max_length=4096)
    password2 = forms.CharField(strip=False, max_length=4096, error_messages={"required": "Repeat the password."})


class TokenForm(forms.Form):
    name = forms.CharField(max_length=MAX_TOKEN_NAME, error_messages={"required": "Name the token."})
