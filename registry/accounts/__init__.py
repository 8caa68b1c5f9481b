"""Account requests for the province's document (QLVB) and mail systems (Đ22.1.h), on the same
state machine as certificate requests (`registry.workflow.machine.ACCOUNT_MACHINE`).

Not built yet (ROADMAP.md, item 4); the package holds the place the layout gives it.
"""
