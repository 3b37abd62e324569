"""An experiment on a branch: excluded in [tool.dkenv], never deployed."""
from sqlmodel import Field, SQLModel


class WideExperiment(SQLModel, table=True):
    __tablename__ = "wide_experiment"
    id: int = Field(primary_key=True)
