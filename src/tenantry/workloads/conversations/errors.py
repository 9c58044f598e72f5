"""The conversations' domain errors: each a library error with its own stable problem code."""

from __future__ import annotations

from tenantry.library import Conflict, Forbidden, InvalidInput


class InvalidCursor(InvalidInput):
    """A page cursor that this list did not hand out (or that was altered)."""

    code = "invalid_cursor"


class UnknownPersonality(InvalidInput):
    code = "unknown_personality"


class InvalidTimeRange(InvalidInput):
    code = "invalid_time_range"


class MessageTooLong(InvalidInput):
    code = "message_too_long"


class NameTaken(Conflict):
    code = "name_taken"


class ChatArchived(Conflict):
    """Archived chats keep their messages but take no new ones; unarchive first."""

    code = "chat_archived"


class MessageComplete(Conflict):
    code = "message_complete"


class PieceOutOfOrder(Conflict):
    """A streamed piece whose index is past the next one expected: an earlier piece is missing."""

    code = "piece_out_of_order"


class PiecesMissing(Conflict):
    """Completing a streamed message that has fewer pieces than the producer sent."""

    code = "pieces_missing"


class ReadOnlySession(Forbidden):
    code = "read_only_session"
