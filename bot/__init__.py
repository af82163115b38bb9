"""The Rasa project; its Python part is the gateway's input channel (bot/channels.py)."""
