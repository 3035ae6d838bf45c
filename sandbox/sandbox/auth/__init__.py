"""The SMART App Launch 2.0 authorization server: clients, launches, codes and tokens (Authlib underneath)."""
