"""The strings the page scripts show, translated on the server and handed
to the script as a JSON data block (the scripts carry no text of their own)."""

from __future__ import annotations

from istifta.i18n import Translator

__all__ = ["script_messages"]


def script_messages(t: Translator) -> dict[str, str]:
    _ = t.gettext
    return {
        "loading": _("Preparing your ballot…"),
        "no_code": _(
            "This link has no voting code. Open the link exactly as it arrived in your SMS, "
            "or type the code from the SMS below."
        ),
        "bad_code": _("This code is not valid: check that you typed all 26 characters."),
        "not_eligible": _("This code is not in this referendum's list of voters."),
        "electorate_bad": _(
            "Warning: the server's proof that your code is in the list of voters does not hold. "
            "Do not vote; report it to the observers."
        ),
        "not_found": _("This referendum does not exist on this server."),
        "already_voted": _(
            "A ballot from you is already on the board. You may vote again: only your last ballot counts."
        ),
        "choose": _("Choose an answer first."),
        "encrypting": _("Encrypting your ballot on this phone…"),
        "sending": _("Sending your encrypted ballot…"),
        "cast_ok": _("Your ballot is on the board."),
        "receipt_ok": _(
            "This phone checked the board's signature and the proof that your ballot is included."
        ),
        "receipt_bad": _(
            "Warning: the receipt could not be verified. Keep a screenshot and report it to the observers."
        ),
        "closed": _("This referendum is closed: no more ballots are accepted."),
        "not_open": _("This referendum is not open for voting yet."),
        "network": _("The connection failed. Your ballot was not cast: try again."),
        "rate_limited": _("Too many ballots from this network. Try again in a minute."),
        "busy": _("The server is busy. Your ballot was not cast: try again in a few seconds."),
        "refused": _("The server refused the ballot:"),
        "audit_says": _("This encrypted ballot holds:"),
        "audit_ok": _("Checked on this phone: the encryption holds exactly the choice shown."),
        "audit_bad": _(
            "The check FAILED: this phone did not encrypt what you chose. Do not vote on this phone."
        ),
        "audit_discarded": _(
            "This checked ballot will never be cast. Save it to check it on another device; "
            "when you vote, your ballot is encrypted afresh."
        ),
        "status_none": _("No ballot from this code is on the board yet."),
        "status_some": _("Ballots from this code on the board: {n}. Only the last one counts:"),
        "status_final": _("The referendum is closed: this is the ballot that was counted."),
        "check_wrong_election": _("This file belongs to no referendum on this server."),
        "check_bad_file": _("This is not an encryption check file."),
        "check_ok": _(
            "Verified: this encrypted ballot holds exactly the choice below; any verifier computes the same."
        ),
        "check_failed": _("The check FAILED: the encryption does not hold the choice the phone claimed."),
        "check_claimed": _("The voter's phone said it encrypted:"),
        "nothing_chosen": _("no option"),
    }
