"""Anthropic's Messages API over the swarm: `POST /v1/messages` (whole and streamed) and
`POST /v1/messages/count_tokens`, with errors in Anthropic's shape.

The door is a translation and nothing more: a Messages request becomes the same round
request as an OpenAI chat completion (`completions.round_spec`), the decided round
becomes an Anthropic `message`, and a stream follows Anthropic's event sequence. The
strategy still comes from `model` (`conclave-vote`, `agent/<name>`, ...).
"""
