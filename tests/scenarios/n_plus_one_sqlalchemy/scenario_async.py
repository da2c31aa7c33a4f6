import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
import services
import services_async
from models import URL, Base

@pytest_asyncio.fixture
async def session():
    engine = create_async_engine(URL)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as s:
        await s.run_sync(services.seed)
    async with AsyncSession(engine) as s:
        yield s
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await engine.dispose()

@pytest.mark.asyncio
async def test_pos_awaitable_attrs_loop(session):
    await services_async.author_names(session)

@pytest.mark.asyncio
async def test_pos_async_get_in_a_loop(session):
    await services_async.titles_by_get(session, [1, 2, 3, 4])

@pytest.mark.asyncio
async def test_neg_async_selectinload(session):
    await services_async.author_names_selectin(session)
