"""Accounts on the province's document-management system (QLVB) and official mail system, and the
requests for them (Đ22.1.h): the same approve – fulfil – hand over life as certificate requests, moved
by the same workflow engine."""
