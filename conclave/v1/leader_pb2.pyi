from conclave.v1 import agent_pb2 as _agent_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunRoundRequest(_message.Message):
    __slots__ = ("messages", "strategy", "method", "participants", "samples_per_participant", "max_tokens", "temperature", "top_p", "seed", "quorum", "participant_timeout_s", "params", "tags", "stop", "response_format", "tools", "tool_choice")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_agent_pb2.ChatMessage]
    strategy: str
    method: str
    participants: _containers.RepeatedScalarFieldContainer[str]
    samples_per_participant: int
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    quorum: int
    participant_timeout_s: float
    params: _containers.ScalarMap[str, str]
    tags: _containers.ScalarMap[str, str]
    stop: _containers.RepeatedScalarFieldContainer[str]
    response_format: ResponseFormat
    tools: _containers.RepeatedCompositeFieldContainer[ToolDefinition]
    tool_choice: str
    def __init__(self, messages: _Optional[_Iterable[_Union[_agent_pb2.ChatMessage, _Mapping]]] = ..., strategy: _Optional[str] = ..., method: _Optional[str] = ..., participants: _Optional[_Iterable[str]] = ..., samples_per_participant: _Optional[int] = ..., max_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., seed: _Optional[int] = ..., quorum: _Optional[int] = ..., participant_timeout_s: _Optional[float] = ..., params: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Mapping[str, str]] = ..., stop: _Optional[_Iterable[str]] = ..., response_format: _Optional[_Union[ResponseFormat, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[ToolDefinition, _Mapping]]] = ..., tool_choice: _Optional[str] = ...) -> None: ...

class ResponseFormat(_message.Message):
    __slots__ = ("type", "schema", "name", "strict")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    type: str
    schema: str
    name: str
    strict: bool
    def __init__(self, type: _Optional[str] = ..., schema: _Optional[str] = ..., name: _Optional[str] = ..., strict: bool = ...) -> None: ...

class ToolDefinition(_message.Message):
    __slots__ = ("name", "description", "parameters", "strict")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: str
    strict: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[str] = ..., strict: bool = ...) -> None: ...

class RoundEvent(_message.Message):
    __slots__ = ("started", "delta", "candidate", "decided")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_FIELD_NUMBER: _ClassVar[int]
    started: RoundStarted
    delta: CandidateDelta
    candidate: CandidateFinished
    decided: Round
    def __init__(self, started: _Optional[_Union[RoundStarted, _Mapping]] = ..., delta: _Optional[_Union[CandidateDelta, _Mapping]] = ..., candidate: _Optional[_Union[CandidateFinished, _Mapping]] = ..., decided: _Optional[_Union[Round, _Mapping]] = ...) -> None: ...

class RoundStarted(_message.Message):
    __slots__ = ("round_id", "strategy", "method", "participants")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    strategy: str
    method: str
    participants: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, round_id: _Optional[str] = ..., strategy: _Optional[str] = ..., method: _Optional[str] = ..., participants: _Optional[_Iterable[str]] = ...) -> None: ...

class CandidateDelta(_message.Message):
    __slots__ = ("participant", "sample_index", "turn", "text")
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_INDEX_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    participant: str
    sample_index: int
    turn: int
    text: str
    def __init__(self, participant: _Optional[str] = ..., sample_index: _Optional[int] = ..., turn: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class CandidateFinished(_message.Message):
    __slots__ = ("candidate",)
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    candidate: Candidate
    def __init__(self, candidate: _Optional[_Union[Candidate, _Mapping]] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("participant", "service", "sample_index", "turn", "text", "finish_reason", "error", "prompt_tokens", "completion_tokens", "latency_ms", "first_token_ms", "generation_ms", "cached_prompt_tokens")
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_INDEX_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_TOKEN_MS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_MS_FIELD_NUMBER: _ClassVar[int]
    CACHED_PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    participant: str
    service: str
    sample_index: int
    turn: int
    text: str
    finish_reason: str
    error: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    first_token_ms: float
    generation_ms: float
    cached_prompt_tokens: int
    def __init__(self, participant: _Optional[str] = ..., service: _Optional[str] = ..., sample_index: _Optional[int] = ..., turn: _Optional[int] = ..., text: _Optional[str] = ..., finish_reason: _Optional[str] = ..., error: _Optional[str] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., latency_ms: _Optional[float] = ..., first_token_ms: _Optional[float] = ..., generation_ms: _Optional[float] = ..., cached_prompt_tokens: _Optional[int] = ...) -> None: ...

class VoteGroup(_message.Message):
    __slots__ = ("answer", "members", "weight")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    answer: str
    members: _containers.RepeatedScalarFieldContainer[int]
    weight: float
    def __init__(self, answer: _Optional[str] = ..., members: _Optional[_Iterable[int]] = ..., weight: _Optional[float] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("method", "winner", "answer", "groups", "agreement", "dissent", "detail")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    DISSENT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    method: str
    winner: int
    answer: str
    groups: _containers.RepeatedCompositeFieldContainer[VoteGroup]
    agreement: float
    dissent: _containers.RepeatedScalarFieldContainer[str]
    detail: str
    def __init__(self, method: _Optional[str] = ..., winner: _Optional[int] = ..., answer: _Optional[str] = ..., groups: _Optional[_Iterable[_Union[VoteGroup, _Mapping]]] = ..., agreement: _Optional[float] = ..., dissent: _Optional[_Iterable[str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Participant(_message.Message):
    __slots__ = ("name", "address", "agent", "system_prompt", "weight", "model")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    agent: str
    system_prompt: str
    weight: float
    model: str
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., agent: _Optional[str] = ..., system_prompt: _Optional[str] = ..., weight: _Optional[float] = ..., model: _Optional[str] = ...) -> None: ...

class Round(_message.Message):
    __slots__ = ("id", "created_at", "strategy", "method", "status", "error", "wall_ms", "messages", "participants", "candidates", "decision", "text", "samples_per_participant", "max_tokens", "temperature", "top_p", "seed", "quorum", "participant_timeout_s", "params", "tags", "timings", "stop", "response_format", "tools", "tool_choice")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TimingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    WALL_MS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CHOICE_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_at: float
    strategy: str
    method: str
    status: str
    error: str
    wall_ms: float
    messages: _containers.RepeatedCompositeFieldContainer[_agent_pb2.ChatMessage]
    participants: _containers.RepeatedCompositeFieldContainer[Participant]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    decision: Decision
    text: str
    samples_per_participant: int
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    quorum: int
    participant_timeout_s: float
    params: _containers.ScalarMap[str, str]
    tags: _containers.ScalarMap[str, str]
    timings: _containers.ScalarMap[str, float]
    stop: _containers.RepeatedScalarFieldContainer[str]
    response_format: ResponseFormat
    tools: _containers.RepeatedCompositeFieldContainer[ToolDefinition]
    tool_choice: str
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[float] = ..., strategy: _Optional[str] = ..., method: _Optional[str] = ..., status: _Optional[str] = ..., error: _Optional[str] = ..., wall_ms: _Optional[float] = ..., messages: _Optional[_Iterable[_Union[_agent_pb2.ChatMessage, _Mapping]]] = ..., participants: _Optional[_Iterable[_Union[Participant, _Mapping]]] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., text: _Optional[str] = ..., samples_per_participant: _Optional[int] = ..., max_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., seed: _Optional[int] = ..., quorum: _Optional[int] = ..., participant_timeout_s: _Optional[float] = ..., params: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Mapping[str, str]] = ..., timings: _Optional[_Mapping[str, float]] = ..., stop: _Optional[_Iterable[str]] = ..., response_format: _Optional[_Union[ResponseFormat, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[ToolDefinition, _Mapping]]] = ..., tool_choice: _Optional[str] = ...) -> None: ...

class GetRoundRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListRoundsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "strategy", "since", "until", "tag", "status")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    strategy: str
    since: float
    until: float
    tag: str
    status: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., strategy: _Optional[str] = ..., since: _Optional[float] = ..., until: _Optional[float] = ..., tag: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class RoundSummary(_message.Message):
    __slots__ = ("id", "created_at", "strategy", "method", "status", "answer", "agreement", "candidates", "wall_ms", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    WALL_MS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_at: float
    strategy: str
    method: str
    status: str
    answer: str
    agreement: float
    candidates: int
    wall_ms: float
    tags: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[float] = ..., strategy: _Optional[str] = ..., method: _Optional[str] = ..., status: _Optional[str] = ..., answer: _Optional[str] = ..., agreement: _Optional[float] = ..., candidates: _Optional[int] = ..., wall_ms: _Optional[float] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListRoundsResponse(_message.Message):
    __slots__ = ("rounds", "next_page_token")
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rounds: _containers.RepeatedCompositeFieldContainer[RoundSummary]
    next_page_token: str
    def __init__(self, rounds: _Optional[_Iterable[_Union[RoundSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AgentEntry(_message.Message):
    __slots__ = ("name", "address", "source", "participants", "info", "error", "participant_models")
    class ParticipantModelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_MODELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    source: str
    participants: _containers.RepeatedScalarFieldContainer[str]
    info: _agent_pb2.AgentInfo
    error: str
    participant_models: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., source: _Optional[str] = ..., participants: _Optional[_Iterable[str]] = ..., info: _Optional[_Union[_agent_pb2.AgentInfo, _Mapping]] = ..., error: _Optional[str] = ..., participant_models: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentEntry]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentEntry, _Mapping]]] = ...) -> None: ...
