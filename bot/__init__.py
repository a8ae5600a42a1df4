"""Account-safety advice bot: answers banned-account and scam-offer questions from a curated knowledge base."""

__version__ = "0.1.0"
