"""Finishing later and finishing: the personal link kept, copied or emailed; the done page."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from surveyapp import i18n
from surveyapp.access import participant_link
from surveyapp.extensions import db
from surveyapp.participant import services
from surveyapp.participant.blueprint import current_participant, link_route, next_step_url, personal_url
from surveyapp.participant.forms import EmailLinkForm
from surveyapp.participant.models import ParticipantStatus
from surveyapp.web import validates_own_csrf


@link_route("/saved")
@participant_link
def saved():
    return render_template("participant/saved.html", personal_url=personal_url(), form=EmailLinkForm(),
                           sent=request.args.get("sent") == "1")


@link_route("/email-link", methods=["POST"])
@validates_own_csrf
@participant_link
def email_link():
    """Send the personal link to an address typed here; the address is not stored."""
    participant = current_participant()
    form = EmailLinkForm()
    if form.validate():
        try:
            services.email_personal_link(participant, form.email.data, personal_url(), i18n.current_locale())
        except services.TooManyLinkEmails:
            form.email.errors.append(_("You have asked for your link several times in the last hour. "
                                       "Please copy the link on this page instead, or try again later."))
        except services.LinkEmailNotSent:
            form.email.errors.append(_("We could not send the email just now. Please copy the link on "
                                       "this page instead, or try again later."))
        else:
            db.session.commit()
            return redirect(url_for("participant.saved", sent=1))
    return render_template("participant/saved.html", personal_url=personal_url(), form=form), 400


@link_route("/done")
@participant_link
def done():
    participant = current_participant()
    if participant.status != ParticipantStatus.SUBMITTED:
        return redirect(next_step_url(participant))
    return render_template("participant/done.html", participant=participant)
