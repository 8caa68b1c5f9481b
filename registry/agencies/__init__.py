"""The province's agency tree (cơ quan, đơn vị) with QCVN 102 identifier codes and name history."""
