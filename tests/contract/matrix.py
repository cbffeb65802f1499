"""The contract: each scripted error or fault, and what each client sees.

One row per case. `aiohttp` and `httpx` are hand-written SSE readers of Chat Completions (no
retries); the `openai` columns are the official SDK on Chat Completions, `responses` the same
SDK on the Responses API, `anthropic` the anthropic SDK on Messages, `azure` the SDK's
`AsyncAzureOpenAI` on an Azure deployment's Chat Completions: each gives the exception
the SDK raises (or `ok`) and how many requests it made; `ollama` is the ollama client on
Ollama's own `/api/chat` (NDJSON), its `ResponseError` shown with its status code; `bedrock` is
boto3's `converse_stream` (AWS event stream), its `ClientError` shown with its error code; `genai`
is google-genai's `client.aio` streaming from the Gemini API, with `HttpRetryOptions(attempts=3)`
(it retries nothing by default), its `ClientError`/`ServerError` shown with their code. An exception from the column's own
library is named bare, any other with its package (see `LIBRARY`).
The docs page "What your client will see" is generated from this table
(`python -m tests.contract.table`), and a test keeps the two equal.
"""

from __future__ import annotations

from sparring import ERROR_PRESETS, Fault, Reply, error, reply

TEXT = "one two three four"


def _fault(kind: str, **where: object) -> Reply:
    return reply(TEXT, fault=Fault(kind, **where), repeat=True)  # type: ignore[arg-type]


# retry_after_ms keeps the SDK's retries fast; the status and body are the preset's own.
CASES: dict[str, Reply] = {f"error: {p}": error(p, retry_after_ms=5, repeat=True) for p in ERROR_PRESETS}
CASES |= {
    "fault: reset (before headers)": _fault("reset"),
    "fault: empty_response": _fault("empty_response"),
    "fault: garbage (before headers)": _fault("garbage"),
    "fault: hang": _fault("hang"),
    "fault: reset after chunk 2": _fault("reset", after_chunk=2),
    "fault: close after chunk 2": _fault("close", after_chunk=2),
    "fault: truncate after chunk 2": _fault("truncate", after_chunk=2),
    "fault: stall after chunk 2 (forever)": _fault("stall", after_chunk=2),
    "fault: stall after chunk 2 for 0.2 s": _fault("stall", after_chunk=2, duration=0.2),
    "fault: malformed_chunk after chunk 2": _fault("malformed_chunk", after_chunk=2),
    "fault: error_event after chunk 2": _fault("error_event", after_chunk=2),
    "fault: garbage after chunk 2": _fault("garbage", after_chunk=2),
    "fault: no_done": _fault("no_done"),
}

COLUMNS = (
    "aiohttp",
    "httpx",
    "openai 3.x",
    "openai 2.x",
    "responses 3.x",
    "responses 2.x",
    "anthropic 2.x",
    "ollama",
    "azure 3.x",
    "azure 2.x",
    "bedrock",
    "genai",
)

# The library each column is about: its exceptions are named bare in that column
# (`RateLimitError` under openai is `openai.RateLimitError`); every other one carries its
# package (`httpx2.ReadError`, `json.JSONDecodeError`), builtins aside.
LIBRARY = {
    "aiohttp": "aiohttp",
    "httpx": "httpx",
    "openai 3.x": "openai",
    "openai 2.x": "openai",
    "responses 3.x": "openai",
    "responses 2.x": "openai",
    "anthropic 2.x": "anthropic",
    "ollama": "ollama",
    "azure 3.x": "openai",
    "azure 2.x": "openai",
    "bedrock": "botocore",  # boto3's bedrock-runtime client: its exceptions are botocore's
    "genai": "google.genai.errors",
}


def shown(outcome: str, column: str) -> str:
    """An outcome (`openai.RateLimitError`) as the column shows it (`RateLimitError`)."""
    return outcome.removeprefix(LIBRARY[column] + ".")


TABLE = """
error: rate_limit                    | HTTP 429                | HTTP 429             | RateLimitError ×3        | RateLimitError ×3            | RateLimitError ×3        | RateLimitError ×3            | RateLimitError ×3             | ResponseError 429 ×1 | RateLimitError ×3 | RateLimitError ×3 | ClientError ThrottlingException ×3 | ClientError 429 ×3
error: insufficient_quota            | HTTP 429                | HTTP 429             | RateLimitError ×3        | RateLimitError ×3            | RateLimitError ×3        | RateLimitError ×3            | BadRequestError ×1            | ResponseError 429 ×1 | RateLimitError ×3 | RateLimitError ×3 | ClientError ServiceQuotaExceededException ×1 | ClientError 429 ×3
error: server_error                  | HTTP 500                | HTTP 500             | InternalServerError ×3   | InternalServerError ×3       | InternalServerError ×3   | InternalServerError ×3       | InternalServerError ×3        | ResponseError 500 ×1 | InternalServerError ×3 | InternalServerError ×3 | ClientError InternalServerException ×3 | ServerError 500 ×3
error: bad_gateway                   | HTTP 502                | HTTP 502             | InternalServerError ×3   | InternalServerError ×3       | InternalServerError ×3   | InternalServerError ×3       | InternalServerError ×3        | ResponseError 502 ×1 | InternalServerError ×3 | InternalServerError ×3 | ClientError InternalServerException ×3 | ServerError 502 ×3
error: unavailable                   | HTTP 503                | HTTP 503             | InternalServerError ×3   | InternalServerError ×3       | InternalServerError ×3   | InternalServerError ×3       | ServiceUnavailableError ×3    | ResponseError 503 ×1 | InternalServerError ×3 | InternalServerError ×3 | ClientError ServiceUnavailableException ×3 | ServerError 503 ×3
error: overloaded                    | HTTP 503                | HTTP 503             | InternalServerError ×3   | InternalServerError ×3       | InternalServerError ×3   | InternalServerError ×3       | OverloadedError ×3            | ResponseError 503 ×1 | InternalServerError ×3 | InternalServerError ×3 | ClientError ServiceUnavailableException ×3 | ServerError 503 ×3
error: timeout                       | HTTP 504                | HTTP 504             | InternalServerError ×3   | InternalServerError ×3       | InternalServerError ×3   | InternalServerError ×3       | GatewayTimeoutError ×3        | ResponseError 500 ×1 | InternalServerError ×3 | InternalServerError ×3 | ClientError ModelTimeoutException ×1 | ServerError 504 ×3
error: bad_request                   | HTTP 400                | HTTP 400             | BadRequestError ×1       | BadRequestError ×1           | BadRequestError ×1       | BadRequestError ×1           | BadRequestError ×1            | ResponseError 400 ×1 | BadRequestError ×1 | BadRequestError ×1 | ClientError ValidationException ×1 | ClientError 400 ×1
error: context_length_exceeded       | HTTP 400                | HTTP 400             | BadRequestError ×1       | BadRequestError ×1           | BadRequestError ×1       | BadRequestError ×1           | BadRequestError ×1            | ResponseError 400 ×1 | BadRequestError ×1 | BadRequestError ×1 | ClientError ValidationException ×1 | ClientError 400 ×1
error: unauthorized                  | HTTP 401                | HTTP 401             | AuthenticationError ×1   | AuthenticationError ×1       | AuthenticationError ×1   | AuthenticationError ×1       | AuthenticationError ×1        | ResponseError 401 ×1 | AuthenticationError ×1 | AuthenticationError ×1 | ClientError UnrecognizedClientException ×1 | ClientError 401 ×1
error: forbidden                     | HTTP 403                | HTTP 403             | PermissionDeniedError ×1 | PermissionDeniedError ×1     | PermissionDeniedError ×1 | PermissionDeniedError ×1     | PermissionDeniedError ×1      | ResponseError 403 ×1 | PermissionDeniedError ×1 | PermissionDeniedError ×1 | ClientError AccessDeniedException ×1 | ClientError 403 ×1
error: not_found                     | HTTP 404                | HTTP 404             | NotFoundError ×1         | NotFoundError ×1             | NotFoundError ×1         | NotFoundError ×1             | NotFoundError ×1              | ResponseError 404 ×1 | NotFoundError ×1 | NotFoundError ×1 | ClientError ResourceNotFoundException ×1 | ClientError 404 ×1
error: conflict                      | HTTP 409                | HTTP 409             | ConflictError ×3         | ConflictError ×3             | ConflictError ×3         | ConflictError ×3             | ConflictError ×3              | ResponseError 409 ×1 | ConflictError ×3 | ConflictError ×3 | ClientError ConflictException ×1 | ClientError 409 ×1
fault: reset (before headers)        | ClientOSError           | ReadError            | APIConnectionError ×3    | APIConnectionError ×3        | APIConnectionError ×3    | APIConnectionError ×3        | APIConnectionError ×3         | httpx.ReadError ×1 | APIConnectionError ×3 | APIConnectionError ×3 | ConnectionClosedError ×3 | aiohttp.ClientOSError ×3
fault: empty_response                | ServerDisconnectedError | RemoteProtocolError  | APIConnectionError ×3    | APIConnectionError ×3        | APIConnectionError ×3    | APIConnectionError ×3        | APIConnectionError ×3         | httpx.RemoteProtocolError ×1 | APIConnectionError ×3 | APIConnectionError ×3 | ConnectionClosedError ×3 | aiohttp.ServerDisconnectedError ×3
fault: garbage (before headers)      | ClientResponseError     | RemoteProtocolError  | APIConnectionError ×3    | APIConnectionError ×3        | APIConnectionError ×3    | APIConnectionError ×3        | APIConnectionError ×3         | httpx.RemoteProtocolError ×1 | APIConnectionError ×3 | APIConnectionError ×3 | ConnectionClosedError ×3 | aiohttp.ClientResponseError ×1
fault: hang                          | SocketTimeoutError      | ReadTimeout          | APITimeoutError ×3       | APITimeoutError ×3           | APITimeoutError ×3       | APITimeoutError ×3           | APITimeoutError ×3            | httpx.ReadTimeout ×1 | APITimeoutError ×3 | APITimeoutError ×3 | ReadTimeoutError ×3 | TimeoutError ×1
fault: reset after chunk 2           | ClientPayloadError      | ReadError            | APIConnectionError ×1    | httpx.ReadError ×1           | APIConnectionError ×1    | httpx.ReadError ×1           | httpx2.ReadError ×1           | httpx.ReadError ×1 | APIConnectionError ×1 | httpx.ReadError ×1 | urllib3.exceptions.ProtocolError ×1 | aiohttp.ClientPayloadError ×1
fault: close after chunk 2           | ClientPayloadError      | RemoteProtocolError  | APIConnectionError ×1    | httpx.RemoteProtocolError ×1 | APIConnectionError ×1    | httpx.RemoteProtocolError ×1 | httpx2.RemoteProtocolError ×1 | httpx.RemoteProtocolError ×1 | APIConnectionError ×1 | httpx.RemoteProtocolError ×1 | urllib3.exceptions.ProtocolError ×1 | aiohttp.ClientPayloadError ×1
fault: truncate after chunk 2        | ClientPayloadError      | RemoteProtocolError  | APIConnectionError ×1    | httpx.RemoteProtocolError ×1 | APIConnectionError ×1    | httpx.RemoteProtocolError ×1 | httpx2.RemoteProtocolError ×1 | httpx.RemoteProtocolError ×1 | APIConnectionError ×1 | httpx.RemoteProtocolError ×1 | urllib3.exceptions.ProtocolError ×1 | aiohttp.ClientPayloadError ×1
fault: stall after chunk 2 (forever) | SocketTimeoutError      | ReadTimeout          | APITimeoutError ×1       | httpx.ReadTimeout ×1         | APITimeoutError ×1       | httpx.ReadTimeout ×1         | httpx2.ReadTimeout ×1         | httpx.ReadTimeout ×1 | APITimeoutError ×1 | httpx.ReadTimeout ×1 | urllib3.exceptions.ReadTimeoutError ×1 | TimeoutError ×1
fault: stall after chunk 2 for 0.2 s | ok                      | ok                   | ok ×1                    | ok ×1                        | ok ×1                    | ok ×1                        | ok ×1                         | ok ×1 | ok ×1 | ok ×1 | ok ×1 | ok ×1
fault: malformed_chunk after chunk 2 | json.JSONDecodeError    | json.JSONDecodeError | json.JSONDecodeError ×1  | json.JSONDecodeError ×1      | json.JSONDecodeError ×1  | json.JSONDecodeError ×1      | ok ×1                         | json.JSONDecodeError ×1 | json.JSONDecodeError ×1 | json.JSONDecodeError ×1 | ChecksumMismatch ×1 | UnknownApiResponseError ×1
fault: error_event after chunk 2     | in-band error           | in-band error        | APIError ×1              | APIError ×1                  | APIError ×1              | APIError ×1                  | APIStatusError ×1             | ResponseError -1 ×1 | APIError ×1 | APIError ×1 | EventStreamError internalServerException ×1 | ServerError 500 ×1
fault: garbage after chunk 2         | UnicodeDecodeError      | ok                   | UnicodeDecodeError ×1    | UnicodeDecodeError ×1        | UnicodeDecodeError ×1    | UnicodeDecodeError ×1        | UnicodeDecodeError ×1         | json.JSONDecodeError ×1 | UnicodeDecodeError ×1 | UnicodeDecodeError ×1 | ChecksumMismatch ×1 | UnicodeDecodeError ×1
fault: no_done                       | ok, no [DONE]           | ok, no [DONE]        | ok ×1                    | ok ×1                        | ok ×1                    | ok ×1                        | ok ×1                         | ok, no done ×1 | ok ×1 | ok ×1 | ok, no messageStop ×1 | ok, no finishReason ×1
"""


def expected() -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for line in TABLE.strip().splitlines():
        case, *cells = (cell.strip() for cell in line.split("|"))
        rows[case] = dict(zip(COLUMNS, cells, strict=True))
    return rows
