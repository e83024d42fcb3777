"""PyTorch -> MindSpore 2.x migration codemod (libcst + the declarative api_map.yaml).

Command line: ``python -m migrate SRC DST``; library use::

    from migrate.codemod import convert_source
    from migrate.spec import load_spec

    out = convert_source(torch_code, load_spec())
    out.code, out.sites
"""
