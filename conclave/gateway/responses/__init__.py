"""OpenAI's Responses API over the swarm: `POST /v1/responses` (whole and streamed),
`GET /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`, in OpenAI's error shape.

A response *is* its round: `resp_<round id>` names the round the leader stored, and the
round already holds everything a response is — the whole conversation it answered, the
sampling it used, every candidate and the decided answer. Its door-specific facts (which
message was the `instructions`, the `previous_response_id`, `metadata`) travel as round
tags. So `previous_response_id` and `GET /v1/responses/{id}` read the leader's SQLite
store through `GetRound`: a response survives gateway and leader restarts, every gateway
in front of one leader sees the same responses, and the gateway stays a pure client of the
leader (no store of its own, no new RPC).
"""
