"""The scheduled work beside the callback path: forwarding to the operator's systems (reconciling with CSS,
issue 25, is to come here too).

What the callback path imports of it is small and imported only when forwarding is configured: the rules
(``rules``), the outbox entry (``outbox``) and the inline attempt (``inline``, with ``delivery`` and
``signing``). The jobs themselves (``forward``), their lease (``lease``), the timer's entry
(``timer``) and the operator's commands (``commands``) run only on a timer or from the command line.
"""
