"""Rounds as AutoGen conversations: the machinery the conversation strategies share.

- `ConclaveParticipant`: a team member that critiques or aggregates and records its turns;
- `Transcript`: every turn of every participant, as the round's candidates;
- `AgreementTermination`: stops a conversation once a turn's answers agree;
- `prompts`: every prompt of the conversation strategies, and the context rule;
- `runner`: the one runner; each strategy (`conclave.leader.strategies`) defines a team.

docs/strategies.md describes them.
"""
