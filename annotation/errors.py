"""Domain errors that services raise; the API maps each to one HTTP status."""


class QuorumError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None, errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or []

    def as_dict(self) -> dict:
        body: dict = {"detail": self.message}
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        return body


class InvalidInput(QuorumError):
    status = 400


class Conflict(QuorumError):
    status = 409


class Gone(QuorumError):
    status = 410
