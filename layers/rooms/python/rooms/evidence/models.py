"""Wire shapes of the evidence routes' answers: the export's signature and an erasure's signed report. In
their own module so that a function whose route returns one (room_admin's erasure) declares it without
importing the export and the erasure themselves at init (``make bench BENCH=cold_start``)."""

from pydantic import BaseModel, ConfigDict, Field

ALGORITHM = "HMAC-SHA256"


class ExportSignature(BaseModel):
    model_config = ConfigDict(defer_build=True)

    alg: str = Field(ALGORITHM, description="HMAC-SHA256 over the canonical bytes of `document`")
    key_id: str
    value: str = Field(description="Hex")


class RoomErasure(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    outcome: str = Field(description="erased | held (legal hold: untouched) | missing (no room, or "
                         "not yet: the booking events kept for it about the person deleted)")
    deleted: dict[str, int] = Field(default_factory=dict, description="Items deleted, by kind")
    pseudonymised: dict[str, int] = Field(default_factory=dict, description="Items pseudonymised, by kind")
    recordings: list[str] = Field(default_factory=list, description="Recordings of the room (not deleted)")


class ErasureReport(BaseModel):
    model_config = ConfigDict(defer_build=True)

    erasure_id: str
    at: str
    subject_digest: str = Field(description="HMAC-SHA256(evidence key, user_id), hex")
    rooms: list[RoomErasure]
    complete: bool = Field(description="False when a legal hold kept some room's data")
    sha256: str = Field(description="Of the proof's canonical JSON (erasure_id, at, actor, subject_digest, rooms)")
    signature: ExportSignature
